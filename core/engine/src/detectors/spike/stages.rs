//! Which window a spike's bucket is in as bucket boundaries pass it: pure functions of the
//! bucket index and the boundary (the first bucket still filling).
//!
//! A complete bucket `age` buckets before the newest complete one is in the current window
//! (stage 0) or baseline window j (1..k); beyond k it is gone. With seasonality the windows
//! are a period apart and a bucket is a whole window: buckets between two of them wait.

/// A bucket still filling: in no window yet.
pub const FILLING: i64 = -1;
/// A seasonal bucket between two baseline windows.
pub const WAITING: i64 = -2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stages {
    /// Bucket length (ms).
    pub res: i64,
    /// Buckets per window.
    pub n: i64,
    /// Baseline windows.
    pub k: i64,
    /// Seasonal: windows per period.
    pub period: Option<i64>,
}

impl Stages {
    pub fn stage(&self, b: i64, boundary: i64) -> i64 {
        if b >= boundary {
            return FILLING;
        }
        self.stage_at(boundary - 1 - b)
    }

    fn stage_at(&self, age: i64) -> i64 {
        let Some(m) = self.period else {
            return age.div_euclid(self.n);
        };
        let (j, rest) = (age.div_euclid(m), age.rem_euclid(m));
        if rest == 0 || age == 0 {
            j
        } else if j < self.k {
            WAITING
        } else {
            self.k + 1
        }
    }

    /// Stream time of the next boundary at which bucket `b` changes stage.
    pub fn next_change(&self, b: i64, boundary: i64) -> i64 {
        if b >= boundary {
            return (b + 1) * self.res;
        }
        let age = boundary - 1 - b;
        let Some(m) = self.period else {
            return (b + (age.div_euclid(self.n) + 1) * self.n + 1) * self.res;
        };
        let now = self.stage_at(age);
        let mut next = age + 1;
        while self.stage_at(next) == now {
            // A waiting bucket next changes at a whole number of periods: a baseline window.
            next = (next.div_euclid(m) + 1) * m;
        }
        (b + next + 1) * self.res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Vec<Stages> {
        let mut out = Vec::new();
        for k in 1..5 {
            for n in 1..5 {
                out.push(Stages {
                    res: 7,
                    n,
                    k,
                    period: None,
                });
            }
            for m in 2..5 {
                out.push(Stages {
                    res: 7,
                    n: 1,
                    k,
                    period: Some(m),
                });
            }
        }
        out
    }

    #[test]
    fn next_change_is_the_first_boundary_with_another_stage() {
        for s in shapes() {
            for boundary in -3..40 {
                for b in -5..40 {
                    let now = s.stage(b, boundary);
                    if now > s.k {
                        continue;
                    }
                    let brute = (boundary + 1..)
                        .find(|&later| s.stage(b, later) != now)
                        .expect("every bucket moves on");
                    assert_eq!(s.next_change(b, boundary), brute * s.res, "{s:?} b={b}");
                }
            }
        }
    }

    #[test]
    fn plain_windows_are_n_buckets() {
        let s = Stages {
            res: 10,
            n: 3,
            k: 2,
            period: None,
        };
        let stages: Vec<i64> = (0..11).map(|b| s.stage(b, 10)).collect();
        assert_eq!(stages, [3, 2, 2, 2, 1, 1, 1, 0, 0, 0, FILLING]);
    }

    #[test]
    fn seasonal_windows_are_a_period_apart() {
        let s = Stages {
            res: 10,
            n: 1,
            k: 2,
            period: Some(3),
        };
        let stages: Vec<i64> = (0..11).map(|b| s.stage(b, 10)).collect();
        let w = WAITING;
        assert_eq!(stages, [3, 3, 3, 2, w, w, 1, w, w, 0, FILLING]);
    }
}
