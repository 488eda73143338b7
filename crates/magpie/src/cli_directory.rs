//! The company directory in `magpie client`: `dept list` (the department
//! tree) and `dept members ID`. Everyone signed in may read it; `magpie
//! admin dept ...` changes it.
//!
//! Text by default; with `--json` one JSON document:
//! - `dept list`: the tree as the server returns it,
//!   `{"version": N, "departments": [...]}` (parents before children);
//! - `dept members`: `{"members": [...]}`, every page.

use crate::cli_client::{Failure, Output};
use crate::cli_people::{Printer, cell, clean, table};
use crate::cli_presence::status_name;
use clap::Subcommand;
use magpie_client::{Client, ClientError};
use magpie_proto::{Department, DeptId, DirectoryOk, Member, UserId};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// The directory commands, flattened into `magpie client`'s own.
#[derive(Subcommand, Debug)]
pub enum DirectoryCommand {
    /// The company directory: departments and their members.
    Dept {
        #[command(subcommand)]
        command: DeptCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeptCommand {
    /// Print the department tree with each department's member count.
    List,
    /// List the members of department ID with their titles and presence
    /// (every page).
    Members {
        #[arg(value_name = "ID", value_parser = clap::value_parser!(i64).range(1..))]
        id: DeptId,
    },
}

/// Run a directory command on an authenticated client.
pub(crate) async fn perform(
    command: &DirectoryCommand,
    client: &Client,
    out: &mut Output,
    json: bool,
) -> Result<(), Failure> {
    let mut print = Printer { out, json };
    let DirectoryCommand::Dept { command } = command;
    match command {
        DeptCommand::List => {
            let tree = client.directory().await?;
            print.emit(&tree, || show_tree(&tree))
        }
        DeptCommand::Members { id } => {
            let list = MemberList {
                members: all_members(client, *id).await?,
            };
            print.emit(&list, || show_members(&list.members))
        }
    }
}

/// `dept members --json`: every page at once.
#[derive(Serialize)]
struct MemberList {
    members: Vec<Member>,
}

/// Every page of a department's members.
async fn all_members(client: &Client, dept: DeptId) -> Result<Vec<Member>, Failure> {
    let mut members = Vec::new();
    let mut after: Option<UserId> = None;
    loop {
        let page = client.dept_members_page(dept, after, None).await?;
        let last = page.members.last().map(|m| m.user.user_id);
        members.extend(page.members);
        match page.next {
            None => return Ok(members),
            Some(next) if last.is_some() && after.is_none_or(|a| next > a) => after = Some(next),
            Some(_) => {
                return Err(ClientError::Protocol("the member pages do not advance".into()).into());
            }
        }
    }
}

fn show_members(members: &[Member]) -> String {
    if members.is_empty() {
        return "no members".to_owned();
    }
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let presence = if m.presence.text.is_empty() {
                status_name(m.presence.status).to_owned()
            } else {
                format!(
                    "{}: {}",
                    status_name(m.presence.status),
                    clean(&m.presence.text)
                )
            };
            vec![
                m.user.user_id.to_string(),
                cell(&m.user.user),
                cell(&m.user.nickname),
                cell(&m.title),
                presence,
            ]
        })
        .collect();
    table(&["ID", "USER", "NICKNAME", "TITLE", "PRESENCE"], &rows)
}

/// The department tree, one department a line, children indented under
/// their parent and ordered as the server orders siblings (by `order`,
/// then id):
///
/// ```text
/// HQ  [1]  0 members
///   R&D  [3]  2 members
/// ```
///
/// A department whose parent is missing from the list is shown at the top
/// level, so nothing the server sends is hidden.
pub(crate) fn show_tree(tree: &DirectoryOk) -> String {
    if tree.departments.is_empty() {
        return format!("no departments (directory version {})", tree.version);
    }
    let known: HashSet<DeptId> = tree.departments.iter().map(|d| d.id).collect();
    let mut children: BTreeMap<Option<DeptId>, Vec<&Department>> = BTreeMap::new();
    for dept in &tree.departments {
        let parent = dept.parent.filter(|p| known.contains(p) && *p != dept.id);
        children.entry(parent).or_default().push(dept);
    }
    for siblings in children.values_mut() {
        siblings.sort_by_key(|d| (d.order, d.id));
    }
    let mut text = String::new();
    let mut shown = HashSet::new();
    // Depth first, with an explicit stack: no recursion to overflow, and
    // each department at most once even if the parents form a cycle.
    let mut stack: Vec<(&Department, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|d| (*d, 0)).collect())
        .unwrap_or_default();
    let mut rest = tree.departments.iter();
    loop {
        let Some((dept, depth)) = stack.pop() else {
            // Departments not reached from a top-level one (a cycle):
            // show them at the top level.
            match rest.by_ref().find(|d| !shown.contains(&d.id)) {
                Some(d) => {
                    stack.push((d, 0));
                    continue;
                }
                None => break,
            }
        };
        if !shown.insert(dept.id) {
            continue;
        }
        let members = match dept.members {
            1 => "1 member".to_owned(),
            n => format!("{n} members"),
        };
        text.push_str(&format!(
            "{}{}  [{}]  {members}\n",
            "  ".repeat(depth),
            clean(&dept.name),
            dept.id
        ));
        if let Some(kids) = children.get(&Some(dept.id)) {
            stack.extend(kids.iter().rev().map(|d| (*d, depth + 1)));
        }
    }
    text
}

/// The department that `text` names in `tree`: an id, a name that only one
/// department has, or a path of names from the top (`HQ/R&D`).
pub(crate) fn resolve_dept(tree: &DirectoryOk, text: &str) -> Result<DeptId, String> {
    let text = text.trim();
    if let Ok(id) = text.parse::<DeptId>() {
        return if tree.departments.iter().any(|d| d.id == id) {
            Ok(id)
        } else {
            Err(format!("no department with id {id}"))
        };
    }
    let by_name: Vec<&Department> = tree.departments.iter().filter(|d| d.name == text).collect();
    match by_name.as_slice() {
        [one] => return Ok(one.id),
        [] => {}
        many => {
            let ids: Vec<String> = many.iter().map(|d| d.id.to_string()).collect();
            return Err(format!(
                "{} departments are named {:?} (ids {}): give the id or the path",
                many.len(),
                clean(text),
                ids.join(", ")
            ));
        }
    }
    let by_path: Vec<&Department> = tree
        .departments
        .iter()
        .filter(|d| path_of(tree, d).is_some_and(|p| p == text))
        .collect();
    match by_path.as_slice() {
        [one] => Ok(one.id),
        _ => Err(format!("no department named {:?}", clean(text))),
    }
}

/// `Top/Middle/Name` for a department, or `None` if its parents loop.
fn path_of(tree: &DirectoryOk, dept: &Department) -> Option<String> {
    let mut names = vec![dept.name.as_str()];
    let mut parent = dept.parent;
    while let Some(id) = parent {
        if names.len() > tree.departments.len() {
            return None;
        }
        let up = tree.departments.iter().find(|d| d.id == id)?;
        names.push(&up.name);
        parent = up.parent;
    }
    names.reverse();
    Some(names.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(id: DeptId, name: &str, parent: Option<DeptId>, order: i64) -> Department {
        Department {
            id,
            name: name.to_owned(),
            parent,
            order,
            members: id,
        }
    }

    fn tree() -> DirectoryOk {
        DirectoryOk {
            version: 7,
            departments: vec![
                dept(1, "HQ", None, 0),
                dept(2, "Sales", Some(1), 2),
                dept(3, "R&D", Some(1), 1),
                dept(4, "Sales", Some(3), 0),
                dept(5, "Lab", None, 1),
            ],
        }
    }

    #[test]
    fn the_tree_is_indented_and_ordered() {
        assert_eq!(
            show_tree(&tree()),
            "HQ  [1]  1 member\n  R&D  [3]  3 members\n    Sales  [4]  4 members\n  \
             Sales  [2]  2 members\nLab  [5]  5 members\n"
        );
        let empty = DirectoryOk {
            version: 0,
            departments: vec![],
        };
        assert_eq!(show_tree(&empty), "no departments (directory version 0)");
    }

    #[test]
    fn a_broken_tree_still_shows_every_department_once() {
        let broken = DirectoryOk {
            version: 1,
            departments: vec![
                dept(1, "A", Some(2), 0),
                dept(2, "B", Some(1), 0),
                dept(3, "Orphan", Some(99), 0),
                dept(4, "Self", Some(4), 0),
            ],
        };
        let text = show_tree(&broken);
        for name in ["A  [1]", "B  [2]", "Orphan  [3]", "Self  [4]"] {
            assert_eq!(text.matches(name).count(), 1, "{name} in {text}");
        }
    }

    #[test]
    fn departments_resolve_by_id_name_or_path() {
        let t = tree();
        assert_eq!(resolve_dept(&t, "3"), Ok(3));
        assert_eq!(resolve_dept(&t, "R&D"), Ok(3));
        assert_eq!(resolve_dept(&t, " Lab "), Ok(5));
        assert_eq!(resolve_dept(&t, "HQ/R&D/Sales"), Ok(4));
        assert_eq!(resolve_dept(&t, "HQ/Sales"), Ok(2));
        assert!(resolve_dept(&t, "Sales").is_err_and(|e| e.contains("ids 2, 4")));
        assert!(resolve_dept(&t, "9").is_err());
        assert!(resolve_dept(&t, "Nowhere").is_err());
    }
}
