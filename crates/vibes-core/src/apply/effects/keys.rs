//! Key pairs and SSM parameters: a key pair made with its private key stored as a
//! SecureString, imports, tags and deletes, and the plain parameters vibes writes.

use super::{Context, EffectError};
use crate::cloud::CloudError;
use crate::plan::Effect;

/// Runs a key pair or parameter effect.
pub(super) async fn run(cx: &Context, effect: &Effect) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::CreateKeyPair {
            key_name,
            private_key_parameter,
            tags,
            overwrite,
        } => {
            let private = cx
                .call(name, |_| cloud.create_key_pair(key_name, tags))
                .await?;
            let stored = cx
                .retrier
                .run(|attempt| {
                    let private = &private;
                    async move {
                        match cloud
                            .put_secure_parameter(private_key_parameter, private, tags, *overwrite)
                            .await
                        {
                            // An earlier attempt of ours got through before its answer was lost.
                            Err(CloudError::AlreadyExists { .. }) if attempt > 1 => Ok(()),
                            other => other,
                        }
                    }
                })
                .await;
            match stored {
                Ok(()) => Ok(()),
                // A secret turned up at the path after the plan was made: it is kept, and the
                // key pair just made goes again, since nobody could ever hold its private key.
                Err(CloudError::AlreadyExists { .. }) => {
                    cx.call_gone("delete key pair", |_| cloud.delete_key_pair(key_name))
                        .await?;
                    Err(EffectError::SecretInTheWay {
                        parameter: private_key_parameter.clone(),
                        key_name: key_name.clone(),
                    })
                }
                Err(source) => Err(EffectError::Cloud {
                    effect: "store private key",
                    source,
                }),
            }
        }
        Effect::ImportKeyPair {
            key_name,
            public_key,
            tags,
        } => {
            cx.call(name, |_| cloud.import_key_pair(key_name, public_key, tags))
                .await
        }
        Effect::DeleteKeyPair { key_name } => {
            cx.call_gone(name, |_| cloud.delete_key_pair(key_name))
                .await
        }
        Effect::TagKeyPair { key_name, tags } => {
            cx.call(name, |_| cloud.tag_key_pair(key_name, tags)).await
        }
        Effect::PutParameter {
            name: param,
            value,
            tags,
        } => {
            let value = cx.resolve(value)?;
            cx.call(name, |_| cloud.put_parameter(param, &value, tags))
                .await
        }
        Effect::DeleteParameter { name: param } => {
            cx.call_gone(name, |_| cloud.delete_parameter(param)).await
        }
        Effect::TagParameter { name: param, tags } => {
            cx.call(name, |_| cloud.tag_parameter(param, tags)).await
        }
        _ => unreachable!("{name} is not a key pair or parameter effect"),
    }
}
