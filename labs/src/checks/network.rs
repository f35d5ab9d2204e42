//! Network checks: `GET /networks/{name}`; aliases from the members' own inspect, where the
//! Engine API keeps them.

use super::{Context, Evidence, Mismatch};
use crate::ledger::Kind;
use crate::scenario::check::NetworkCheck;

pub fn evaluate(check: &NetworkCheck, cx: &Context) -> Result<Evidence, Mismatch> {
    let found = cx.api.network(&check.network)?;
    let network = match (found, check.exists) {
        (None, false) => {
            return match &cx.run {
                Some(run) => run.existed(Kind::Network, &check.network),
                None => Ok(None),
            };
        }
        (None, true) => {
            return Err(Mismatch::new(
                format!("network {}", check.network),
                "no such network",
            ));
        }
        (Some(network), false) => {
            return Err(Mismatch::new(
                "no such network",
                format!("network {}", network.name),
            ));
        }
        (Some(network), true) => network,
    };
    let evidence = match &cx.run {
        Some(run) => run.owns(Kind::Network, &network.id, &network.name, &network.labels)?,
        None => None,
    };
    if let Some(driver) = &check.driver {
        if network.driver != *driver {
            return Err(Mismatch::new(
                format!("driver {driver}"),
                format!("driver {}", network.driver),
            ));
        }
    }
    let members: Vec<&str> = network.containers.values().map(|c| c.name.as_str()).collect();
    for member in &check.members {
        if !members.contains(&member.as_str()) {
            return Err(Mismatch::new(
                format!("{member} connected"),
                if members.is_empty() {
                    "no containers connected".to_owned()
                } else {
                    format!("connected: {}", members.join(", "))
                },
            ));
        }
    }
    for (container, aliases) in &check.aliases {
        let Some(inspect) = cx.api.container(container)? else {
            return Err(Mismatch::new(
                format!("container {container}"),
                "no such container",
            ));
        };
        let endpoint = inspect.network_settings.networks.get(&network.name);
        let found = endpoint.and_then(|e| e.aliases.clone()).unwrap_or_default();
        for alias in aliases {
            if !found.contains(alias) {
                return Err(Mismatch::new(
                    format!("alias {alias} for {container} on {}", network.name),
                    if endpoint.is_none() {
                        format!("{container} not on {}", network.name)
                    } else {
                        format!("aliases: {}", found.join(", "))
                    },
                ));
            }
        }
    }
    Ok(evidence)
}
