//! Turning a list of actions into a checked DAG: edges from the dependency relation, deletes
//! reversed, two actions on one address and cycles rejected, and a deterministic order.

use super::action::{Action, Op};
use super::Plan;
use crate::address::Address;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("two actions on {0}: the planner would {1} and {2} it")]
    DuplicateAddress(Address, &'static str, &'static str),
    #[error("the actions depend on each other in a cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Address>),
}

/// Does an action change anything? Blocked actions wait for nothing and nothing waits for them.
fn acts(a: &Action) -> bool {
    a.op != Op::Blocked
}

pub(super) fn assemble(
    project: &str,
    mut actions: Vec<Action>,
    notes: Vec<String>,
    depends_on: impl Fn(&Address, &Address) -> bool,
) -> Result<Plan, PlanError> {
    actions.sort_by(|a, b| a.address.cmp(&b.address));
    for w in actions.windows(2) {
        if w[0].address == w[1].address {
            return Err(PlanError::DuplicateAddress(
                w[0].address.clone(),
                w[0].op.as_str(),
                w[1].op.as_str(),
            ));
        }
    }
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..actions.len()).map(|i| g.add_node(i)).collect();
    let mut edges = BTreeSet::new();
    for (i, a) in actions.iter().enumerate() {
        for (j, b) in actions.iter().enumerate() {
            if i == j || !acts(a) || !acts(b) || !depends_on(&a.address, &b.address) {
                continue;
            }
            // `a` depends on `b`.
            match (a.op == Op::Delete, b.op == Op::Delete) {
                // Creating or changing `a` needs `b` in its new state; a removed `b` gone first.
                (false, _) => edges.insert((j, i)),
                // Both go: the dependent goes first.
                (true, true) => edges.insert((i, j)),
                // `a` goes while `b` stays or changes: no order needed.
                (true, false) => false,
            };
        }
    }
    for &(from, to) in &edges {
        g.add_edge(nodes[from], nodes[to], ());
    }
    if let Err(cycle) = petgraph::algo::toposort(&g, None) {
        let start = g[cycle.node_id()];
        return Err(PlanError::Cycle(
            find_cycle(&edges, start)
                .into_iter()
                .map(|i| actions[i].address.clone())
                .collect(),
        ));
    }
    // Kahn's algorithm, always taking the smallest ready address: the same inputs give the same
    // plan, byte for byte, and kinds come in their natural order where the graph allows.
    let n = actions.len();
    let mut indegree = vec![0usize; n];
    for &(_, to) in &edges {
        indegree[to] += 1;
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &(from, to) in &edges {
            if from == i {
                indegree[to] -= 1;
                if indegree[to] == 0 {
                    ready.push(Reverse(to));
                }
            }
        }
    }
    let mut position = vec![0; n];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let mut slots: Vec<Option<Action>> = actions.into_iter().map(Some).collect();
    let actions = order
        .iter()
        .map(|&i| slots[i].take().expect("each once"))
        .collect();
    let mut edges: Vec<(usize, usize)> = edges
        .into_iter()
        .map(|(a, b)| (position[a], position[b]))
        .collect();
    edges.sort();
    Ok(Plan {
        project: project.to_string(),
        actions,
        edges,
        notes,
        cost: None,
    })
}

/// A cycle through `start`, for the error message.
fn find_cycle(edges: &BTreeSet<(usize, usize)>, start: usize) -> Vec<usize> {
    fn dfs(
        edges: &BTreeSet<(usize, usize)>,
        at: usize,
        start: usize,
        path: &mut Vec<usize>,
        seen: &mut BTreeSet<usize>,
    ) -> bool {
        for &(a, b) in edges {
            if a != at {
                continue;
            }
            if b == start {
                path.push(b);
                return true;
            }
            if seen.insert(b) {
                path.push(b);
                if dfs(edges, b, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start];
    dfs(edges, start, start, &mut path, &mut BTreeSet::new());
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Kind;
    use std::collections::BTreeMap;

    fn act(addr: &str, op: Op) -> Action {
        Action {
            address: addr.parse().unwrap(),
            op,
            reason: String::new(),
            attributes: vec![],
            changes: vec![],
            effects: vec![],
            relies_on: BTreeMap::new(),
        }
    }

    #[test]
    fn two_actions_on_one_address_are_rejected() {
        let e = assemble(
            "p",
            vec![act("key.a", Op::Create), act("key.a", Op::Delete)],
            vec![],
            |_, _| false,
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::DuplicateAddress(..)));
    }

    #[test]
    fn cycles_are_rejected_and_named() {
        let e = assemble(
            "p",
            vec![act("stack.a", Op::Create), act("stack.b", Op::Create)],
            vec![],
            |_, _| true,
        )
        .unwrap_err();
        match e {
            PlanError::Cycle(path) => {
                assert_eq!(path.first(), path.last());
                assert!(path.len() >= 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deletes_run_in_reverse_dependency_order() {
        // server depends on stack.main; creating: main first. Deleting: server first.
        let dep = |a: &Address, b: &Address| a.kind == Kind::Server && b.kind == Kind::Stack;
        let p = assemble(
            "p",
            vec![act("stack.main", Op::Create), act("server", Op::Create)],
            vec![],
            dep,
        )
        .unwrap();
        assert_eq!(p.actions[0].address.to_string(), "stack.main");
        assert_eq!(p.edges, vec![(0, 1)]);
        let p = assemble(
            "p",
            vec![act("stack.main", Op::Delete), act("server", Op::Delete)],
            vec![],
            dep,
        )
        .unwrap();
        assert_eq!(p.actions[0].address.to_string(), "server");
        assert_eq!(p.edges, vec![(0, 1)]);
    }
}
