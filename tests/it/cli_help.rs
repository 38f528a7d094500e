//! The help, completions and man page are generated from the one CLI definition: they name every
//! subcommand, and the commands people start with show examples.

use assert_cmd::Command;

const SUBCOMMANDS: [&str; 10] = [
    "validate",
    "plan",
    "apply",
    "show",
    "destroy",
    "status",
    "unlock",
    "build",
    "completions",
    "man",
];

fn vibes(args: &[&str]) -> String {
    let out = Command::cargo_bin("vibes")
        .unwrap()
        .args(args)
        .env_remove("VIBES_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vibes {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn bash_completions_offer_every_subcommand() {
    let script = vibes(&["completions", "bash"]);
    assert!(
        script.contains("complete -F"),
        "a bash completion script: {}",
        &script[..script.len().min(400)]
    );
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completions offer `{sub}`");
    }
    assert!(
        script.contains("--detailed-exitcode") && script.contains("--target"),
        "flags of plan are completed"
    );
}

#[test]
fn completions_exist_for_every_supported_shell() {
    for (shell, marker) in [
        ("zsh", "#compdef vibes"),
        ("fish", "complete -c vibes"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let script = vibes(&["completions", shell]);
        assert!(
            script.contains(marker),
            "{shell} completions contain {marker:?}"
        );
        assert!(
            script.contains("unlock"),
            "{shell} completions know the subcommands"
        );
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = Command::cargo_bin("vibes")
        .unwrap()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tcsh") && err.contains("bash") && err.contains("zsh"),
        "{err}"
    );
}

#[test]
fn the_man_page_is_roff_with_a_title_and_every_subcommand() {
    let page = vibes(&["man"]);
    // clap_mangen puts the roff quote-character preamble (`.ie`/`.el`) before the title.
    let first_macro = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap();
    assert!(
        first_macro.starts_with(".TH vibes 1"),
        "the page opens with its title: {first_macro}"
    );
    assert!(page
        .lines()
        .take_while(|l| !l.starts_with(".TH"))
        .all(|l| l.starts_with(".ie ") || l.starts_with(".el ")));
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("vibes\\-{sub}(1)")),
            "the man page names `{sub}`"
        );
    }
}

#[test]
fn man_out_writes_one_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("man1");
    vibes(&["man", "--out", target.to_str().unwrap()]);
    let main = std::fs::read_to_string(target.join("vibes.1")).unwrap();
    assert!(main.contains(".TH vibes 1"));
    for sub in SUBCOMMANDS {
        let page = std::fs::read_to_string(target.join(format!("vibes-{sub}.1")))
            .unwrap_or_else(|e| panic!("vibes-{sub}.1: {e}"));
        assert!(
            page.contains(&format!(".TH vibes-{sub} 1")),
            "vibes-{sub}.1 has its own title"
        );
    }
    let plan = std::fs::read_to_string(target.join("vibes-plan.1")).unwrap();
    assert!(
        plan.contains("detailed\\-exitcode"),
        "the plan page documents its flags"
    );
}

#[test]
fn plan_apply_and_build_help_show_examples() {
    for (sub, example) in [
        ("plan", "vibes plan --out plan.json"),
        ("apply", "vibes apply plan.json"),
        ("build", "vibes build --sources music"),
    ] {
        let help = vibes(&[sub, "--help"]);
        assert!(
            help.contains("Examples:"),
            "`vibes {sub} --help` has examples"
        );
        assert!(
            help.contains(example),
            "`vibes {sub} --help` shows {example:?}:\n{help}"
        );
    }
}
