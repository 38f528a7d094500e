//! `${stack.NAME.Output}`: a stack parameter that takes another stack's output, known only
//! once that stack is applied.

use super::names;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub stack: String,
    pub output: String,
}

/// `Ok(None)` for a plain value, `Ok(Some(_))` for a reference, `Err(why)` for text that
/// tries to be a reference and is not one.
pub fn parse(value: &str) -> Result<Option<Reference>, String> {
    if !value.contains("${") {
        return Ok(None);
    }
    let inner = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .filter(|inner| !inner.contains("${") && !inner.contains('}'))
        .ok_or("a reference must be the whole value, as in \"${stack.vpc.VpcId}\"")?;
    let parts: Vec<&str> = inner.split('.').collect();
    let [kind, stack, output] = parts.as_slice() else {
        return Err("expected three parts: stack, the stack's name and the output's name".into());
    };
    if *kind != "stack" {
        return Err(format!(
            "only stack outputs can be referenced, not `{kind}`"
        ));
    }
    if let Some(why) = names::STACK.violation(stack) {
        return Err(format!("`{stack}` is not a stack name: {why}"));
    }
    if output.is_empty() || !output.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "`{output}` is not an output name (letters and digits)"
        ));
    }
    Ok(Some(Reference {
        stack: stack.to_string(),
        output: output.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_and_references() {
        assert_eq!(parse("t4g.small"), Ok(None));
        assert_eq!(
            parse("${stack.vpc.VpcId}"),
            Ok(Some(Reference {
                stack: "vpc".into(),
                output: "VpcId".into()
            }))
        );
    }

    #[test]
    fn half_references_are_refused() {
        assert!(parse("id-${stack.vpc.VpcId}")
            .unwrap_err()
            .contains("whole value"));
        assert!(parse("${stack.vpc}").unwrap_err().contains("three parts"));
        assert!(parse("${key.vpc.VpcId}")
            .unwrap_err()
            .contains("only stack outputs"));
        assert!(parse("${stack.vpc.Vpc-Id}")
            .unwrap_err()
            .contains("output name"));
        assert!(parse("${stack.vpc.VpcId").is_err());
    }
}
