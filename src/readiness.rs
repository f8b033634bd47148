//! Readiness scoring (SPEC 5): a pure function of a project's counts, so it
//! is tested without a database. The counts come from one aggregate
//! statement (`db::readiness`).

use serde::{Deserialize, Serialize};

/// What readiness is computed from; all counts, never rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessInputs {
    /// F
    pub features: i64,
    /// Fc
    pub confirmed_features: i64,
    /// P
    pub personas: i64,
    /// V
    pub value_path_steps: i64,
    /// S
    pub signals: i64,
    /// Sc: signals with authority `client`.
    pub client_signals: i64,
    /// M
    pub meetings: i64,
    /// C: whether a strategic context exists.
    pub has_strategic_context: bool,
    /// D: non-empty foundation fields, 0..=5.
    pub foundation_fields: i64,
    /// Whether the foundation's problem statement is non-empty.
    pub has_problem_statement: bool,
}

/// The four dimensions, each 0..=100.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    pub value_path: f64,
    pub problem: f64,
    pub solution: f64,
    pub engagement: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Insufficient,
    Developing,
    Ready,
    Excellent,
}

/// What keeps a project from being ready, in the fixed order they are
/// reported.
/// The names are the API's (SPEC 5) and the persisted snapshots'.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    NoValuePathSteps,
    NoProblemStatement,
    NoConfirmedFeatures,
    NoPersonas,
    NoClientSignals,
}

impl Blocker {
    pub fn message(self) -> &'static str {
        match self {
            Self::NoValuePathSteps => "No value path steps",
            Self::NoProblemStatement => "No problem statement",
            Self::NoConfirmedFeatures => "No confirmed features",
            Self::NoPersonas => "No personas",
            Self::NoClientSignals => "No client signals",
        }
    }
}

/// A scored project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// Mean of the four dimensions, rounded to one decimal.
    pub score: f64,
    pub status: ReadinessStatus,
    pub dimensions: Dimensions,
    pub blockers: Vec<Blocker>,
}

/// Scores a project from its counts.
pub(crate) fn score(inputs: &ReadinessInputs) -> Readiness {
    let dimensions = Dimensions {
        value_path: 20.0 * capped(inputs.value_path_steps, 5),
        problem: 20.0 * capped(inputs.foundation_fields, 5),
        solution: 12.0 * capped(inputs.confirmed_features, 5) + 20.0 * capped(inputs.personas, 2),
        engagement: 5.0 * capped(inputs.signals, 10)
            + 15.0 * capped(inputs.meetings, 2)
            + 20.0 * f64::from(u8::from(inputs.has_strategic_context)),
    };
    let mean =
        (dimensions.value_path + dimensions.problem + dimensions.solution + dimensions.engagement)
            / 4.0;
    let score = (mean * 10.0).round() / 10.0;
    Readiness::from_score(score, dimensions, blockers(inputs))
}

impl Readiness {
    /// A readiness whose status follows from its score. Scoring and reading
    /// a stored snapshot both go through here, so the score->status rule
    /// lives in one place.
    pub fn from_score(score: f64, dimensions: Dimensions, blockers: Vec<Blocker>) -> Self {
        Self {
            score,
            status: status(score),
            dimensions,
            blockers,
        }
    }
}

/// `min(count, cap)`, never negative, as a float for the arithmetic.
fn capped(count: i64, cap: i64) -> f64 {
    // Both are at most `cap` (5 or 10) here, so the conversion is exact.
    count.clamp(0, cap) as f64
}

fn status(score: f64) -> ReadinessStatus {
    if score < 40.0 {
        ReadinessStatus::Insufficient
    } else if score < 70.0 {
        ReadinessStatus::Developing
    } else if score < 85.0 {
        ReadinessStatus::Ready
    } else {
        ReadinessStatus::Excellent
    }
}

fn blockers(inputs: &ReadinessInputs) -> Vec<Blocker> {
    [
        (inputs.value_path_steps == 0, Blocker::NoValuePathSteps),
        (!inputs.has_problem_statement, Blocker::NoProblemStatement),
        (inputs.confirmed_features == 0, Blocker::NoConfirmedFeatures),
        (inputs.personas == 0, Blocker::NoPersonas),
        (inputs.client_signals == 0, Blocker::NoClientSignals),
    ]
    .into_iter()
    .filter_map(|(holds, blocker)| holds.then_some(blocker))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> ReadinessInputs {
        ReadinessInputs::default()
    }

    #[test]
    fn an_empty_project_scores_zero_with_every_blocker() {
        let r = score(&inputs());
        assert_eq!(r.score, 0.0);
        assert_eq!(r.status, ReadinessStatus::Insufficient);
        assert_eq!(
            r.blockers,
            vec![
                Blocker::NoValuePathSteps,
                Blocker::NoProblemStatement,
                Blocker::NoConfirmedFeatures,
                Blocker::NoPersonas,
                Blocker::NoClientSignals
            ]
        );
    }

    #[test]
    fn value_path_clamps_at_five_steps() {
        for (steps, expected) in [(4, 80.0), (5, 100.0), (6, 100.0)] {
            let r = score(&ReadinessInputs {
                value_path_steps: steps,
                ..inputs()
            });
            assert_eq!(r.dimensions.value_path, expected, "{steps} steps");
        }
    }

    #[test]
    fn problem_counts_foundation_fields() {
        for (fields, expected) in [(0, 0.0), (4, 80.0), (5, 100.0)] {
            let r = score(&ReadinessInputs {
                foundation_fields: fields,
                ..inputs()
            });
            assert_eq!(r.dimensions.problem, expected);
        }
    }

    #[test]
    fn solution_clamps_confirmed_features_at_five_and_personas_at_two() {
        let at = |fc, p| {
            score(&ReadinessInputs {
                confirmed_features: fc,
                personas: p,
                ..inputs()
            })
            .dimensions
            .solution
        };
        assert_eq!(at(4, 0), 48.0);
        assert_eq!(at(5, 0), 60.0);
        assert_eq!(at(6, 0), 60.0);
        assert_eq!(at(0, 1), 20.0);
        assert_eq!(at(0, 2), 40.0);
        assert_eq!(at(0, 3), 40.0);
        assert_eq!(at(9, 9), 100.0);
    }

    #[test]
    fn unconfirmed_features_do_not_count() {
        let r = score(&ReadinessInputs {
            features: 50,
            ..inputs()
        });
        assert_eq!(r.dimensions.solution, 0.0);
        assert!(r.blockers.contains(&Blocker::NoConfirmedFeatures));
    }

    #[test]
    fn engagement_clamps_signals_at_ten_and_meetings_at_two() {
        let at = |s, m, c| {
            score(&ReadinessInputs {
                signals: s,
                meetings: m,
                has_strategic_context: c,
                ..inputs()
            })
            .dimensions
            .engagement
        };
        assert_eq!(at(9, 0, false), 45.0);
        assert_eq!(at(10, 0, false), 50.0);
        assert_eq!(at(11, 0, false), 50.0);
        assert_eq!(at(0, 1, false), 15.0);
        assert_eq!(at(0, 2, false), 30.0);
        assert_eq!(at(0, 3, false), 30.0);
        assert_eq!(at(0, 0, true), 20.0);
        assert_eq!(at(10, 2, true), 100.0);
    }

    #[test]
    fn the_score_is_the_mean_rounded_to_one_decimal() {
        // value_path 20, problem 0, solution 12, engagement 5: mean 9.25.
        let r = score(&ReadinessInputs {
            value_path_steps: 1,
            confirmed_features: 1,
            signals: 1,
            ..inputs()
        });
        assert_eq!(r.score, 9.3);
        // 20 + 20 + 0 + 15 = 55 / 4 = 13.75.
        let r = score(&ReadinessInputs {
            value_path_steps: 1,
            foundation_fields: 1,
            meetings: 1,
            ..inputs()
        });
        assert_eq!(r.score, 13.8);
    }

    /// Inputs with value path v, foundation fields d, signals s, meetings m,
    /// strategic context c and personas p.
    fn made_of(v: i64, d: i64, s: i64, m: i64, c: bool, p: i64) -> ReadinessInputs {
        ReadinessInputs {
            value_path_steps: v,
            foundation_fields: d,
            signals: s,
            meetings: m,
            has_strategic_context: c,
            personas: p,
            ..inputs()
        }
    }

    #[test]
    fn status_boundaries() {
        let cases = [
            (
                made_of(5, 2, 0, 0, false, 0),
                35.0,
                ReadinessStatus::Insufficient,
            ),
            (
                made_of(5, 3, 0, 0, false, 0),
                40.0,
                ReadinessStatus::Developing,
            ),
            (
                made_of(5, 4, 10, 2, false, 0),
                65.0,
                ReadinessStatus::Developing,
            ),
            (made_of(5, 5, 10, 2, false, 0), 70.0, ReadinessStatus::Ready),
            (made_of(5, 5, 10, 2, true, 1), 80.0, ReadinessStatus::Ready),
            (
                made_of(5, 5, 10, 2, true, 2),
                85.0,
                ReadinessStatus::Excellent,
            ),
            (
                ReadinessInputs {
                    confirmed_features: 5,
                    ..made_of(5, 5, 10, 2, true, 2)
                },
                100.0,
                ReadinessStatus::Excellent,
            ),
        ];
        for (inputs, target, expected) in cases {
            let r = score(&inputs);
            assert_eq!(r.score, target);
            assert_eq!(r.status, expected, "score {target}");
            let stored = Readiness::from_score(r.score, r.dimensions, r.blockers.clone());
            assert_eq!(stored, r, "a stored score reads back with the same status");
        }
        assert_eq!(status(39.9), ReadinessStatus::Insufficient);
        assert_eq!(status(69.9), ReadinessStatus::Developing);
        assert_eq!(status(84.9), ReadinessStatus::Ready);
    }

    #[test]
    fn each_blocker_goes_away_with_its_cause() {
        let full = ReadinessInputs {
            value_path_steps: 1,
            has_problem_statement: true,
            foundation_fields: 1,
            confirmed_features: 1,
            personas: 1,
            client_signals: 1,
            signals: 1,
            ..inputs()
        };
        assert!(score(&full).blockers.is_empty());
        assert_eq!(
            score(&ReadinessInputs {
                value_path_steps: 0,
                ..full
            })
            .blockers,
            vec![Blocker::NoValuePathSteps]
        );
        assert_eq!(
            score(&ReadinessInputs {
                has_problem_statement: false,
                ..full
            })
            .blockers,
            vec![Blocker::NoProblemStatement]
        );
        assert_eq!(
            score(&ReadinessInputs {
                confirmed_features: 0,
                ..full
            })
            .blockers,
            vec![Blocker::NoConfirmedFeatures]
        );
        assert_eq!(
            score(&ReadinessInputs {
                personas: 0,
                ..full
            })
            .blockers,
            vec![Blocker::NoPersonas]
        );
        assert_eq!(
            score(&ReadinessInputs {
                client_signals: 0,
                ..full
            })
            .blockers,
            vec![Blocker::NoClientSignals]
        );
    }
}
