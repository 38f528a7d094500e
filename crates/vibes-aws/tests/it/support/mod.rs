//! What every moto-backed test of the adapter shares: the server harness and a connected
//! [`AwsCloud`].

#![allow(dead_code)]

#[path = "../../../../../tests/it/support/moto.rs"]
pub mod moto;

use std::sync::Once;
use vibes_aws::{connect, AwsCloud, ConnectOptions};
use vibes_core::tags::{ownership, Tags};
use vibes_core::Address;

pub use moto::Moto;

/// Dummy credentials through the environment, as a user of the emulator would set them, once
/// for the whole test binary: every test wants the same values. The one test that needs
/// another environment runs in a process of its own (`connect`).
pub fn dummy_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY);
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_ENDPOINT_URL");
    });
}

/// The adapter connected to `moto` the way `vibes --endpoint-url … --region …` connects.
pub async fn cloud(moto: &Moto) -> AwsCloud {
    dummy_credentials();
    let opts = ConnectOptions {
        region: Some(moto::REGION.into()),
        endpoint_url: Some(moto.endpoint()),
        profile: None,
    };
    connect(&opts).await.expect("connect to moto")
}

/// A plain SDK configuration for reading back what the adapter did, independently of it.
pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    dummy_credentials();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(moto::REGION))
        .endpoint_url(moto.endpoint())
        .load()
        .await
}

pub fn tags(project: &str, address: &str) -> Tags {
    ownership(
        project,
        &address.parse::<Address>().expect("address"),
        "fp0001",
    )
}
