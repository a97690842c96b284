//! Beam's model, generated at build time from Beam 2.77.0's own descriptors
//! (`proto/beam-2.77.0.binpb`; its origin and licence are in `proto/README.md`).
//!
//! The generated modules nest as the protobuf packages do (`org::apache::beam::model::…`,
//! which their cross-references need); the short names below are the ones to use:
//! [`pipeline`] is the Runner API, [`fn_execution`] the Fn API and the provision service,
//! [`job_management`] the Job and Artifact APIs.

#![allow(missing_docs, clippy::all, rust_2018_idioms, unreachable_pub)]

pub use org::apache::beam::model::expansion::v1 as expansion;
pub use org::apache::beam::model::fn_execution::v1 as fn_execution;
pub use org::apache::beam::model::interactive::v1 as interactive;
pub use org::apache::beam::model::job_management::v1 as job_management;
pub use org::apache::beam::model::pipeline::v1 as pipeline;

/// The generated packages, as protobuf names them.
pub mod org {
    pub mod apache {
        pub mod beam {
            pub mod model {
                pub mod pipeline {
                    pub mod v1 {
                        include!(concat!(
                            env!("OUT_DIR"),
                            "/org.apache.beam.model.pipeline.v1.rs"
                        ));
                    }
                }
                pub mod fn_execution {
                    pub mod v1 {
                        include!(concat!(
                            env!("OUT_DIR"),
                            "/org.apache.beam.model.fn_execution.v1.rs"
                        ));
                    }
                }
                pub mod job_management {
                    pub mod v1 {
                        include!(concat!(
                            env!("OUT_DIR"),
                            "/org.apache.beam.model.job_management.v1.rs"
                        ));
                    }
                }
                pub mod expansion {
                    pub mod v1 {
                        include!(concat!(
                            env!("OUT_DIR"),
                            "/org.apache.beam.model.expansion.v1.rs"
                        ));
                    }
                }
                pub mod interactive {
                    pub mod v1 {
                        include!(concat!(
                            env!("OUT_DIR"),
                            "/org.apache.beam.model.interactive.v1.rs"
                        ));
                    }
                }
            }
        }
    }
}
