//! Python's arithmetic on JSON numbers, as the reference engine computes aggregates: an int
//! stays an exact int until a float joins it, `int / int` is the correctly rounded quotient,
//! and `round(x, n)` rounds the float's exact decimal value, ties to even.
//!
//! Alerts show these values, and `2` is not `2.0` there, so the type matters as much as the
//! value.

use std::cmp::Ordering;

use crate::filter::compare;
use crate::value::Number;

/// `a + b`. Integers beyond i128 (unbounded in Python) are out of reach of any event stream:
/// a sum would need more than 2^63 events of the largest JSON integer.
pub fn add(a: Number, b: Number) -> Number {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => x
            .checked_add(y)
            .map_or(Number::Float(x as f64 + y as f64), Number::Int),
        _ => Number::Float(a.as_f64() + b.as_f64()),
    }
}

/// `a - b`.
pub fn sub(a: Number, b: Number) -> Number {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => x
            .checked_sub(y)
            .map_or(Number::Float(x as f64 - y as f64), Number::Int),
        _ => Number::Float(a.as_f64() - b.as_f64()),
    }
}

/// `a < b`, comparing an int with a float exactly.
pub fn less(a: Number, b: f64) -> bool {
    compare(a, Number::Float(b)) == Some(Ordering::Less)
}

/// `a / n`: a float, correctly rounded also where `a` has more digits than a float holds.
pub fn div(a: Number, n: u64) -> f64 {
    match a {
        Number::Int(i) => true_div(i, n),
        Number::Float(f) => f / n as f64,
    }
}

/// Python's `int / int`: the exact quotient rounded once to the nearest float, ties to even.
pub fn true_div(a: i128, b: u64) -> f64 {
    const EXACT: u128 = 1 << 53;
    let negative = a < 0;
    let (a, b) = (a.unsigned_abs(), u128::from(b));
    if a <= EXACT && b <= EXACT {
        let q = a as f64 / b as f64;
        return if negative { -q } else { q };
    }
    // Scale to a quotient of 55 or 56 bits and fold the remainder into its lowest bit: one
    // rounding of that to 53 bits is the rounding of the exact quotient.
    let bits = |x: u128| 128 - x.leading_zeros() as i32;
    let shift = bits(a) - bits(b) - 55;
    let (q, r) = if shift >= 0 {
        let d = b << shift;
        (a / d, a % d)
    } else {
        let n = a << -shift;
        (n / b, n % b)
    };
    let q = (q | u128::from(r != 0)) as f64 * pow2(shift);
    if negative {
        -q
    } else {
        q
    }
}

/// 2^e for the exponents `true_div` uses (normal floats, so the product is exact).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((1023 + e) as u64) << 52)
}

/// Python's `round(x, digits)` of a float.
pub fn round_to(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    // Formatting with a precision rounds the exact binary value, ties to even, as Python's
    // dtoa does; reading the digits back is correctly rounded on both sides.
    format!("{x:.digits$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_stay_ints_until_a_float_joins() {
        assert_eq!(add(Number::Int(2), Number::Int(3)), Number::Int(5));
        assert_eq!(add(Number::Int(2), Number::Float(0.5)), Number::Float(2.5));
        assert_eq!(sub(Number::Float(2.5), Number::Int(2)), Number::Float(0.5));
        assert_eq!(sub(Number::Int(2), Number::Int(5)), Number::Int(-3));
    }

    #[test]
    fn int_division_is_correctly_rounded() {
        // (a, b, Python's a / b as the bits of a float)
        for (a, b, want) in [
            (5_i128, 2_u64, 2.5_f64.to_bits()),
            (18446744073709551615, 3, 0x43D5555555555555),
            (-18446744073709551615, 3, 0xC3D5555555555555),
            (9007199254740993, 1, 0x4340000000000000),
            (9007199254740993, 2, 0x4330000000000000),
            (2884325266086140205, 501, 0x43347415BDAE1D6E),
            (14542538676548654325, 31, 0x439A0A8356C39EF2),
            (6749082872123620853, 292, 0x4354875AFBE091F9),
            (10364525566789035204, 868, 0x4345360029202287),
        ] {
            assert_eq!(true_div(a, b).to_bits(), want, "{a} / {b}");
        }
    }

    #[test]
    fn rounding_ties_go_to_even() {
        assert_eq!(round_to(0.0078125, 6), 0.007812);
        assert_eq!(round_to(0.0234375, 6), 0.023438);
        assert_eq!(round_to(1.0 / 3.0, 6), 0.333333);
        assert_eq!(round_to(0.125, 2), 0.12);
        assert_eq!(round_to(0.5, 0), 0.0);
    }

    #[test]
    fn rounding_ties_go_to_even_on_the_binary_value() {
        for (x, want) in [
            (0.0078125, 0.007812),
            (0.0234375, 0.023438),
            (2.675, 2.675),
            (5e-7, 0.0),
            (123456.0000005, 123456.000001),
            (1e22, 1e22),
            (0.1 + 0.2, 0.3),
        ] {
            assert_eq!(round_to(x, 6).to_bits(), f64::to_bits(want), "{x}");
        }
        assert!(round_to(-1e-9, 6).is_sign_negative());
    }
}
