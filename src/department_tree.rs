//! A tenant's live departments as a forest, for the admin site and the
//! app API alike. Built without recursion: a synced chain of thousands of
//! departments must not exhaust a worker's stack, nor a page template's.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use entity::department;

/// Nesting deeper than this is listed flat at this depth.
pub const MAX_DEPTH: usize = 64;

/// One department with its children, sorted by code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentNode {
    pub org_code: String,
    pub org_name: String,
    pub parent_code: Option<String>,
    #[schema(no_recursion)]
    pub children: Vec<DepartmentNode>,
}

/// Department names by code, from the live departments: what a user list
/// shows instead of a code. A user whose department was deleted or never
/// synced is not found here and shows its code.
pub fn names(live: &[department::Model]) -> HashMap<String, String> {
    live.iter().map(|d| (d.org_code.clone(), d.org_name.clone())).collect()
}

/// The forest: roots are the departments without a live parent (one whose
/// parent has not arrived yet is listed at the top); departments caught
/// in a parent cycle start a tree of their own, so every department shows
/// exactly once.
pub fn forest(rows: Vec<department::Model>) -> Vec<DepartmentNode> {
    let known: HashSet<String> = rows.iter().map(|d| d.org_code.clone()).collect();
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    let mut roots = Vec::new();
    let mut codes = Vec::with_capacity(rows.len());
    let mut nodes: HashMap<String, DepartmentNode> = HashMap::new();
    for d in rows {
        let parent = d
            .parent_code
            .as_deref()
            .filter(|p| !p.is_empty() && *p != d.org_code && known.contains(*p));
        match parent {
            Some(parent) => {
                children.entry(parent.to_string()).or_default().push(d.org_code.clone())
            }
            None => roots.push(d.org_code.clone()),
        }
        codes.push(d.org_code.clone());
        nodes.insert(
            d.org_code.clone(),
            DepartmentNode {
                org_code: d.org_code,
                org_name: d.org_name,
                parent_code: d.parent_code.filter(|p| !p.is_empty()),
                children: Vec::new(),
            },
        );
    }
    // Breadth-first from each root: every code with the node it goes under.
    let mut order: Vec<(String, Option<String>)> = Vec::new();
    let mut visited: HashSet<String> = HashSet::new();
    let mut starts: Vec<String> = roots.clone();
    let mut unvisited = codes.iter();
    loop {
        let mut level: Vec<(String, Option<String>)> = Vec::new();
        for code in starts.drain(..) {
            if visited.insert(code.clone()) {
                level.push((code, None));
            }
        }
        let mut depth = 0;
        while !level.is_empty() {
            let mut next = Vec::new();
            for (code, attach_to) in level {
                // Past MAX_DEPTH, children go beside their parent instead.
                let under =
                    if depth + 1 < MAX_DEPTH { Some(code.clone()) } else { attach_to.clone() };
                for child in children.get(&code).into_iter().flatten() {
                    if visited.insert(child.clone()) {
                        next.push((child.clone(), under.clone()));
                    }
                }
                order.push((code, attach_to));
            }
            level = next;
            depth += 1;
        }
        // Whatever no root reaches sits in a cycle: start from it.
        match unvisited.find(|code| !visited.contains(*code)) {
            Some(code) => {
                roots.push(code.clone());
                starts.push(code.clone());
            }
            None => break,
        }
    }
    // Bottom-up, so each node's children are complete before it moves.
    for (code, attach_to) in order.iter().rev() {
        let Some(attach_to) = attach_to else { continue };
        if let Some(node) = nodes.remove(code) {
            if let Some(parent) = nodes.get_mut(attach_to) {
                parent.children.push(node);
            }
        }
    }
    let mut forest: Vec<DepartmentNode> =
        roots.iter().filter_map(|code| nodes.remove(code)).collect();
    sort(&mut forest);
    forest
}

/// Sorts every level by code, without recursion.
fn sort(forest: &mut Vec<DepartmentNode>) {
    let mut pending: Vec<&mut Vec<DepartmentNode>> = vec![forest];
    while let Some(list) = pending.pop() {
        list.sort_by(|a, b| a.org_code.cmp(&b.org_code));
        for node in list.iter_mut() {
            pending.push(&mut node.children);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department(code: &str, parent: &str) -> department::Model {
        department::Model {
            tenant_id: "t".into(),
            org_code: code.into(),
            org_name: format!("name {code}"),
            parent_code: Some(parent.into()),
            retired: false,
            sync_mark: String::new(),
            updated_at: chrono::Utc::now(),
        }
    }

    /// (count, deepest) without recursion.
    fn measure(forest: &[DepartmentNode]) -> (usize, usize) {
        let (mut count, mut deepest) = (0, 0);
        let mut pending: Vec<(&DepartmentNode, usize)> = forest.iter().map(|n| (n, 1)).collect();
        while let Some((node, depth)) = pending.pop() {
            count += 1;
            deepest = deepest.max(depth);
            pending.extend(node.children.iter().map(|c| (c, depth + 1)));
        }
        (count, deepest)
    }

    /// A chain of 10,000 departments is served whole, nested no deeper
    /// than MAX_DEPTH, without recursion anywhere.
    #[test]
    fn a_very_deep_chain_is_kept_whole_and_bounded_in_depth() {
        let mut rows = vec![department("0", "")];
        rows.extend((1..10_000).map(|i| department(&i.to_string(), &(i - 1).to_string())));
        assert_eq!(measure(&forest(rows)), (10_000, MAX_DEPTH));
    }

    #[test]
    fn children_nest_sorted_and_orphans_cycles_and_self_parents_become_roots() {
        let tree = forest(vec![
            department("b", "a"),
            department("a", ""),
            department("c2", "b"),
            department("c1", "b"),
            department("orphan", "gone"),
            department("x", "y"),
            department("y", "x"),
            department("me", "me"),
        ]);
        assert_eq!(measure(&tree).0, 8, "every department once");
        let a = tree.iter().find(|n| n.org_code == "a").expect("a is a root");
        assert_eq!(a.children[0].org_code, "b");
        let grandchildren: Vec<&str> =
            a.children[0].children.iter().map(|n| n.org_code.as_str()).collect();
        assert_eq!(grandchildren, ["c1", "c2"]);
        let roots: Vec<&str> = tree.iter().map(|n| n.org_code.as_str()).collect();
        assert_eq!(roots, ["a", "me", "orphan", "x"], "{roots:?}");
        let x = &tree[3];
        assert_eq!((x.children.len(), x.children[0].org_code.as_str()), (1, "y"));
    }
}
