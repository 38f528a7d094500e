//! How a config's faults read in a terminal: the miette report, without colour.

use crate::support::config::*;

#[test]
fn the_report_shows_every_fault_with_its_place_label_and_help() {
    let dir = ConfigDir::new();
    let e = dir.err("[project]\nname = \"Vibes\"\n[network]\ncreate = true\nvpc_id = \"vpc-0123456789abcdef0\"\n[snapshot]\nkeep = 0\n");
    insta::assert_snapshot!(render(&e), @r#"
    vibes::config

      × vibes.toml has 3 problems

    Error: vibes::config::invalid_name

      × `Vibes` is not a valid project name: it starts with `V`
       ╭─[vibes.toml:2:8]
     1 │ [project]
     2 │ name = "Vibes"
       ·        ───┬───
       ·           ╰── must match ^[a-z][a-z0-9-]{0,30}$
     3 │ [network]
       ╰────

    Error: vibes::config::conflict

      × [network] cannot both create a VPC and reuse one
       ╭─[vibes.toml:5:10]
     3 │ [network]
     4 │ create = true
       ·          ──┬─
       ·            ╰── creates a VPC
     5 │ vpc_id = "vpc-0123456789abcdef0"
       ·          ───────────┬───────────
       ·                     ╰── reuses this VPC
     6 │ [snapshot]
       ╰────

    Error: vibes::config::unknown_key

      × unknown section [snapshot]
       ╭─[vibes.toml:6:2]
     5 │ vpc_id = "vpc-0123456789abcdef0"
     6 │ [snapshot]
       ·  ────┬───
       ·      ╰── not a vibes setting
     7 │ keep = 0
       ╰────
      help: did you mean [snapshots]?
    "#);
}
