//! The fake's SSM parameters: plain and SecureString puts, exclusive creates, tags; a
//! SecureString is never read back as plain text, as the adapter refuses to.

use super::{not_found, FakeCloud};
use async_trait::async_trait;
use vibes_core::cloud::Parameters;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::secret::Secret;
use vibes_core::tags::Tags;

#[async_trait]
impl Parameters for FakeCloud {
    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("put_parameter", name).await?;
        refused("put_parameter", name, value)?;
        self.world().put_param(name, value.into(), false, tags);
        Ok(())
    }

    async fn put_secure_parameter(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        let _s = self.enter("put_secure_parameter", name).await?;
        refused("put_secure_parameter", name, value.expose())?;
        let mut w = self.world();
        if !overwrite && w.parameters.contains_key(name) {
            return Err(CloudError::AlreadyExists {
                operation: "put_secure_parameter".into(),
                what: format!("parameter {name}"),
            });
        }
        w.put_param(name, value.expose().into(), true, tags);
        Ok(())
    }

    async fn create_parameter_exclusive(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        let _s = self.enter("create_parameter_exclusive", name).await?;
        refused("create_parameter_exclusive", name, value)?;
        let mut w = self.world();
        if w.parameters.contains_key(name) {
            return Err(CloudError::AlreadyExists {
                operation: "create_parameter_exclusive".into(),
                what: format!("parameter {name}"),
            });
        }
        w.put_param(name, value.into(), false, tags);
        Ok(())
    }

    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>> {
        let _s = self.enter("get_parameter", name).await?;
        match self.world().parameters.get(name) {
            // As the adapter: a secret has no business in a plain `String`.
            Some(p) if p.secure => Err(CloudError::permanent(
                "get_parameter",
                format!("{name} is a SecureString; its value is not read as plain text"),
            )),
            p => Ok(p.map(|p| p.value.clone())),
        }
    }

    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        let _s = self.enter("delete_parameter", name).await?;
        // Already gone is not an error (the trait's promise, as SSM's answer is mapped).
        self.world().parameters.remove(name);
        Ok(())
    }

    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("tag_parameter", name).await?;
        let mut w = self.world();
        let p = w
            .parameters
            .get_mut(name)
            .ok_or_else(|| not_found("tag_parameter", format!("parameter {name}")))?;
        p.tags.extend(tags.clone());
        Ok(())
    }
}

/// What PutParameter refuses: a name prefixed with `aws` or `ssm` (case-insensitive, the
/// hierarchy's first level included), and a Standard parameter's value over 4096 characters.
/// <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html>
fn refused(operation: &str, name: &str, value: &str) -> CloudResult<()> {
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(CloudError::permanent(
            operation,
            format!("ValidationException: Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive): {name}"),
        ));
    }
    if value.chars().count() > 4096 {
        return Err(CloudError::permanent(
            operation,
            format!(
                "ValidationException: {name}: the value is {} characters; a Standard parameter holds at most 4096",
                value.chars().count()
            ),
        ));
    }
    Ok(())
}
