//! `[keys.NAME]` → [`KeySpec`]: the EC2 key pair's name, the SSM parameter its private key is
//! kept in, and the public key to import when the config names one.

use super::Resolver;
use crate::config::error::FaultKind;
use crate::config::files;
use crate::config::names;
use crate::config::raw::*;
use crate::model::*;
use std::collections::BTreeMap;
use toml::Spanned;

impl Resolver<'_> {
    pub(super) fn keys(&mut self, raw: &[RawKey], project: &Project) -> BTreeMap<String, KeySpec> {
        let mut out = BTreeMap::new();
        for k in raw {
            let name = k.name.get_ref();
            if !self.check_name(&k.name, &names::RESOURCE, "key") {
                continue;
            }
            let private_key_path = project.ssm_path(&format!("ec2/keys/{name}"));
            self.claim(
                "SSM parameter",
                private_key_path.clone(),
                k.name.span(),
                format!("key {name}"),
            );
            let public_key = k.public_key.as_ref().and_then(|p| self.public_key(p));
            out.insert(
                name.clone(),
                KeySpec {
                    key_name: project.aws_name(name),
                    private_key_path,
                    public_key,
                },
            );
        }
        out
    }

    fn public_key(&mut self, written: &Spanned<String>) -> Option<String> {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let path = files::public_key_path(&self.dir, written.get_ref(), home.as_deref());
        let text = match files::read_text(&path, crate::bounded::TEXT_FILE_LIMIT) {
            Ok(t) => t,
            Err(e) => {
                self.path_fault(written.span(), "public_key", &e);
                return None;
            }
        };
        match files::openssh_public_key(&text) {
            Ok(key) => Some(key),
            Err(why) => {
                self.fault(
                    FaultKind::InvalidValue,
                    written.span(),
                    format!("{} is not an OpenSSH public key: {why}", path.display()),
                    "not a public key",
                );
                None
            }
        }
    }
}
