//! The baseline's arithmetic, step for step as the Python engine does it: its results reach
//! pages as floats, where every last bit shows.

use std::cmp::Ordering;

/// `sum(xs)` of floats: added left to right from 0, uncompensated (as Python 3.11 does).
pub fn sum(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(0.0, |acc, x| acc + x)
}

/// `statistics.median(xs)`: the middle value, or the mean of the two middle values.
pub fn median(xs: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = xs.collect();
    // Stable, with -0.0 and 0.0 equal: equal values keep their order, as in a Python sort.
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_counts_is_the_mean_of_the_middle_two() {
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
        assert_eq!(median([4.0, 1.0, 3.0].into_iter()), 3.0);
    }

    #[test]
    fn sum_adds_left_to_right() {
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(sum(xs.into_iter()), 1.0);
    }
}
