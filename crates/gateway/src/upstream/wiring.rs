//! Which [`Group`] each route sends to: built once at start from the validated config
//! (`[[upstream]]` groups and the command line's anonymous ones), indexed by route number
//! so the request path finds a route's group with one bounds-checked load.

use std::sync::Arc;
use std::time::Instant;

use crate::config::UpstreamGroup;
use crate::route::Route;

use super::Group;

/// The live groups, one slot per route (`None` = a single-URL route).
#[derive(Debug, Default)]
pub struct RouteGroups {
    by_route: Vec<Option<Arc<Group>>>,
    groups: Vec<Arc<Group>>,
}

impl RouteGroups {
    /// One live [`Group`] per config group, shared by every route that names it.
    pub fn build(groups: &[UpstreamGroup], routes: &[Route], start: Instant) -> RouteGroups {
        let live: Vec<Arc<Group>> = groups
            .iter()
            .map(|g| {
                let servers = g
                    .servers
                    .iter()
                    .map(|s| (s.upstream.clone(), s.weight))
                    .collect();
                Arc::new(Group::new(&g.name, servers, g.settings.clone(), start))
            })
            .collect();
        let by_route = routes
            .iter()
            .map(|r| {
                let name = r.group.as_deref()?;
                live.iter().find(|g| g.name() == name).cloned()
            })
            .collect();
        RouteGroups {
            by_route,
            groups: live,
        }
    }

    /// The group route number `index` sends to, if it names one.
    pub fn for_route(&self, index: usize) -> Option<&Arc<Group>> {
        self.by_route.get(index)?.as_ref()
    }

    /// Every group, in config order.
    pub fn all(&self) -> &[Arc<Group>] {
        &self.groups
    }

    /// Every group's current server set, in config order (for metrics and status).
    pub fn current(&self) -> Vec<Arc<Group>> {
        self.groups.clone()
    }
}
