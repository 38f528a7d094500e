//! The fake's EC2 key pairs: created (with a made-up private key) or imported under a name
//! not yet taken, tagged, and deleted (a missing one included, as EC2 answers).

use super::world::KeyPair;
use super::{not_found, FakeCloud};
use async_trait::async_trait;
use vibes_core::cloud::KeyPairs;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::secret::Secret;
use vibes_core::tags::Tags;

#[async_trait]
impl KeyPairs for FakeCloud {
    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret> {
        let _s = self.enter("create_key_pair", key_name).await?;
        let mut w = self.world();
        if w.key_pairs.contains_key(key_name) {
            return Err(CloudError::AlreadyExists {
                operation: "create_key_pair".into(),
                what: format!("key pair {key_name}"),
            });
        }
        let id = w.id("key");
        let private = Secret::new(format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nfake {id}\n-----END OPENSSH PRIVATE KEY-----\n"
        ));
        w.key_pairs.insert(
            key_name.into(),
            KeyPair {
                id,
                tags: tags.clone(),
            },
        );
        Ok(private)
    }

    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        let _s = self.enter("import_key_pair", key_name).await?;
        // "Supported key types: RSA and ED25519"; EC2 refuses ECDSA and DSA keys.
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportKeyPair.html
        if !public_key.starts_with("ssh-rsa ") && !public_key.starts_with("ssh-ed25519 ") {
            return Err(CloudError::permanent(
                "import_key_pair",
                "InvalidKey.Format: Key is not in valid OpenSSH public key format",
            ));
        }
        let mut w = self.world();
        if w.key_pairs.contains_key(key_name) {
            return Err(CloudError::AlreadyExists {
                operation: "import_key_pair".into(),
                what: format!("key pair {key_name}"),
            });
        }
        let id = w.id("key");
        w.key_pairs.insert(
            key_name.into(),
            KeyPair {
                id,
                tags: tags.clone(),
            },
        );
        Ok(())
    }

    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()> {
        let _s = self.enter("delete_key_pair", key_name).await?;
        // EC2 answers success for a key pair that does not exist.
        self.world().key_pairs.remove(key_name);
        Ok(())
    }

    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("tag_key_pair", key_name).await?;
        let mut w = self.world();
        let k = w
            .key_pairs
            .get_mut(key_name)
            .ok_or_else(|| not_found("tag_key_pair", format!("key pair {key_name}")))?;
        k.tags.extend(tags.clone());
        Ok(())
    }
}
