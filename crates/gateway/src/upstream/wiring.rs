//! Which [`Group`] each route sends to: built once at start from the validated config
//! (`[[upstream]]` groups and the command line's anonymous ones), indexed by route number
//! so the request path finds a route's group with one bounds-checked load.
//!
//! A group whose servers are all IP literals never changes: the request path borrows it,
//! no lock, no reference count. A group with host names ([`super::dns`]) is a
//! [`GroupCell`] whose server set the resolver task replaces; a request takes the current
//! set with one uncontended read lock (written only when a name's addresses changed, so at
//! most every `resolve_interval`) and one reference count, and keeps it for the request's
//! life, so a swap never disturbs a request in flight.

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use tokio::task::JoinHandle;

use crate::config::UpstreamGroup;
use crate::route::Route;

use super::dns::{self, Resolver};
use super::Group;

/// The current server set of a group whose names are resolved again over time.
#[derive(Debug)]
pub struct GroupCell {
    current: RwLock<Arc<Group>>,
}

impl GroupCell {
    /// The server set new requests use.
    pub fn load(&self) -> Arc<Group> {
        // A poisoned lock only means a writer panicked mid-swap; the Arc inside is whole.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Installs `group` for new requests.
    pub fn store(&self, group: Arc<Group>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = group;
    }
}

#[derive(Debug)]
enum Slot {
    Fixed(Arc<Group>),
    Resolved(Arc<GroupCell>),
}

impl Slot {
    fn get(&self) -> Cow<'_, Arc<Group>> {
        match self {
            Slot::Fixed(g) => Cow::Borrowed(g),
            Slot::Resolved(cell) => Cow::Owned(cell.load()),
        }
    }
}

/// The live groups, one slot per route (`None` = a single-URL route).
#[derive(Debug, Default)]
pub struct RouteGroups {
    by_route: Vec<Option<usize>>,
    slots: Vec<Slot>,
    configs: Vec<UpstreamGroup>,
}

impl RouteGroups {
    /// One live [`Group`] per config group, shared by every route that names it.
    pub fn build(groups: &[UpstreamGroup], routes: &[Route], start: Instant) -> RouteGroups {
        let slots = groups
            .iter()
            .map(|g| {
                let servers = g
                    .servers
                    .iter()
                    .map(|s| (s.upstream.clone(), s.weight))
                    .collect();
                let group = Arc::new(Group::new(&g.name, servers, g.settings.clone(), start));
                if dns::has_names(g) {
                    Slot::Resolved(Arc::new(GroupCell {
                        current: RwLock::new(group),
                    }))
                } else {
                    Slot::Fixed(group)
                }
            })
            .collect();
        let by_route = routes
            .iter()
            .map(|r| {
                let name = r.group.as_deref()?;
                groups.iter().position(|g| g.name == name)
            })
            .collect();
        RouteGroups {
            by_route,
            slots,
            configs: groups.to_vec(),
        }
    }

    /// The group route number `index` sends to, if it names one.
    pub fn for_route(&self, index: usize) -> Option<Cow<'_, Arc<Group>>> {
        let slot = (*self.by_route.get(index)?)?;
        Some(self.slots.get(slot)?.get())
    }

    /// Every group's current server set, in config order.
    pub fn all(&self) -> Vec<Arc<Group>> {
        self.slots.iter().map(|s| s.get().into_owned()).collect()
    }

    /// Every group's current server set, in config order (for metrics and status).
    pub fn current(&self) -> Vec<Arc<Group>> {
        self.all()
    }

    /// Starts the groups' background tasks on the current runtime: the active health
    /// checks of every group that has them, and the resolver task of every group with host
    /// names (which starts the checks of each new server set it installs).
    ///
    /// `client_for` gives the pool a group's probes and resolver use from the first route
    /// that names the group (`None`: no route does), so that they speak its `protocol`.
    pub fn spawn_tasks(
        &self,
        client_for: impl Fn(Option<usize>) -> gangway_pool::Client,
        resolver: &Resolver,
    ) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (at, (slot, config)) in self.slots.iter().zip(&self.configs).enumerate() {
            let route = self.by_route.iter().position(|s| *s == Some(at));
            let client = &client_for(route);
            match slot {
                Slot::Fixed(group) => {
                    tasks.extend(super::probe::spawn_all(std::slice::from_ref(group), client));
                }
                Slot::Resolved(cell) => {
                    // The unresolved start set gets no checks: the first resolution
                    // replaces it at once.
                    let probe_client = client.clone();
                    let on_new_set = move |group: &Arc<Group>| {
                        // Checks of an old set end once its last request is done.
                        drop(super::probe::spawn_all(
                            std::slice::from_ref(group),
                            &probe_client,
                        ));
                    };
                    tasks.push(tokio::spawn(dns::resolve_loop(
                        Arc::downgrade(cell),
                        config.clone(),
                        client.clone(),
                        resolver.clone(),
                        on_new_set,
                    )));
                }
            }
        }
        tasks
    }
}
