//! A CodeBuild buildspec (version 0.2) as a bash script: the phases in CodeBuild's order, every
//! command of a build in one shell (so `cd` and variables carry over, as CodeBuild documents for
//! version 0.2), the build stopping at the first command that fails, with the phase it failed in
//! recorded for the build's status.

use serde_yaml_ng::Value;

/// CodeBuild's phases that run commands, in order.
pub const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

/// The phase the local cloud does not run: it downloads Packer from the internet, and the local
/// cloud puts its Packer stand-in on the build's PATH instead (nothing leaves 127.0.0.1).
pub const SKIPPED_PHASE: &str = "install";

pub struct Buildspec {
    /// `env.variables`: the buildspec's own plain variables.
    pub variables: Vec<(String, String)>,
    pub phases: Vec<(String, Vec<String>)>,
}

pub fn parse(text: &str) -> Result<Buildspec, String> {
    let root: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("buildspec: {e}"))?;
    let version = root
        .get("version")
        .map(|v| match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        })
        .unwrap_or_default();
    if version != "0.2" {
        return Err(format!(
            "buildspec: version `{version}` (only 0.2 is run here)"
        ));
    }
    let mut variables = Vec::new();
    if let Some(Value::Mapping(m)) = root.get("env").and_then(|e| e.get("variables")) {
        for (k, v) in m {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                variables.push((k.to_string(), v.to_string()));
            }
        }
    }
    let mut phases = Vec::new();
    for name in PHASES {
        let Some(phase) = root.get("phases").and_then(|p| p.get(name)) else {
            continue;
        };
        let commands = match phase.get("commands") {
            Some(Value::Sequence(c)) => c
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("buildspec: a command of {name} is not text"))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
            Some(_) => return Err(format!("buildspec: {name}.commands is not a list")),
        };
        phases.push((name.to_string(), commands));
    }
    Ok(Buildspec { variables, phases })
}

impl Buildspec {
    /// The script that runs the build. It writes the phase it enters to `$VIBES_BUILD_PHASE_FILE`
    /// and exits with the failing command's status; lines start `[Container]` as in a CodeBuild
    /// log.
    pub fn script(&self) -> String {
        let mut s = String::from("cd \"$CODEBUILD_SRC_DIR\" || exit 1\n");
        for (phase, commands) in &self.phases {
            let upper = phase.to_uppercase();
            if phase == SKIPPED_PHASE {
                s.push_str(&format!(
                    "echo '[Container] Phase {upper} is not run here: it downloads Packer, which the local cloud provides as a stand-in'\n"
                ));
                continue;
            }
            s.push_str(&format!(
                "echo {phase} > \"$VIBES_BUILD_PHASE_FILE\"\necho '[Container] Entering phase {upper}'\n"
            ));
            for c in commands {
                let quoted = shell_quote(c);
                s.push_str(&format!(
                    "echo {}\neval {quoted}\nrc=$?\nif [ $rc -ne 0 ]; then echo \"[Container] Command did not exit successfully {} exit status $rc\"; echo '[Container] Phase complete: {upper} State: FAILED'; exit $rc; fi\n",
                    shell_quote(&format!("[Container] Running command {c}")),
                    c.replace('"', "\\\"").replace('$', "\\$").replace('`', "\\`"),
                ));
            }
            s.push_str(&format!(
                "echo '[Container] Phase complete: {upper} State: SUCCEEDED'\n"
            ));
        }
        s
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_share_one_shell_and_the_first_failure_ends_the_build() {
        let spec = parse(
            "version: 0.2\nphases:\n  install:\n    commands:\n      - curl https://example.com\n  pre_build:\n    commands:\n      - cd sub && X=1\n      - test -n \"$X\" || { echo \"X is not set\"; exit 3; }\n  build:\n    commands:\n      - pwd > \"$OUT/pwd\"\n      - 'false'\n      - echo never > \"$OUT/never\"\n",
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("buildspec-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let phase = dir.join("phase");
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(spec.script())
            .env("CODEBUILD_SRC_DIR", &dir)
            .env("VIBES_BUILD_PHASE_FILE", &phase)
            .env("OUT", &dir)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        assert_eq!(std::fs::read_to_string(&phase).unwrap().trim(), "build");
        let pwd = std::fs::read_to_string(dir.join("pwd")).unwrap();
        assert!(pwd.trim().ends_with("/sub"), "{pwd}");
        assert!(!dir.join("never").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
