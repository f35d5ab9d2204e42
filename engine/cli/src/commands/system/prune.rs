//! `docker system prune [-a] [--volumes] [--filter]`: stopped containers, unused networks,
//! (with `--volumes`) unused volumes, dangling (with `-a`, unused) images and the build cache,
//! in docker/cli's order, each report printed as it comes, then the total.

use berth_api::client::Client;

use crate::cli::SystemPruneArgs;
use crate::commands::prune::{self, Pruned};
use crate::commands::{Failure, Outcome, confirm};
use crate::format::rows::natural_cmp;

pub async fn prune(client: &Client, args: SystemPruneArgs) -> Outcome {
    if args.volumes && args.filter.iter().any(|f| f.split('=').next() == Some("until")) {
        return Err(Failure::new(
            r#"ERROR: The "until" filter is not supported with "--volumes""#,
        ));
    }
    if !args.force && !confirm(&warning(&args)) {
        return Ok(());
    }
    let mut reclaimed = 0;
    let mut show = |pruned: Pruned| {
        reclaimed += pruned.reclaimed;
        if !pruned.report.is_empty() {
            println!("{}", pruned.report);
        }
    };
    show(prune::containers(client, &args.filter).await?);
    show(prune::networks(client, &args.filter).await?);
    if args.volumes {
        show(prune::volumes(client, &args.filter).await?);
    }
    show(prune::images(client, args.all, &args.filter).await?);
    show(prune::build_cache(client, args.all, &args.filter, 0).await?);
    println!("Total reclaimed space: {}", prune::total(reclaimed));
    Ok(())
}

/// docker/cli's confirmation: what goes, then the filters that narrow it (`confirm` adds the
/// question after a blank line).
fn warning(args: &SystemPruneArgs) -> String {
    let mut warnings = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        warnings.push("all volumes not used by at least one container");
    }
    warnings.push(if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    warnings.push(if args.all {
        "all build cache"
    } else {
        "all dangling build cache"
    });
    let mut text = String::from("WARNING! This will remove:\n");
    for warning in warnings {
        text += &format!("  - {warning}\n");
    }
    // Docker names only these filters here, in natural order.
    let mut filters: Vec<&String> = args
        .filter
        .iter()
        .filter(|f| matches!(f.split('=').next(), Some("label" | "label!" | "until")))
        .collect();
    filters.sort_by(|a, b| natural_cmp(a, b));
    if !filters.is_empty() {
        text += "\n  Items to be pruned will be filtered with:\n";
        for filter in filters {
            text += &format!("  - {filter}\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(all: bool, volumes: bool, filter: &[&str]) -> SystemPruneArgs {
        SystemPruneArgs {
            all,
            volumes,
            force: false,
            filter: filter.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn the_warning_lists_what_goes_as_docker_cli_does() {
        assert_eq!(
            warning(&args(false, false, &[])),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - all dangling build cache\n"
        );
        assert_eq!(
            warning(&args(true, true, &["until=10m", "label=a"])),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\n  Items to be pruned will be filtered with:\n  - label=a\n  - until=10m\n"
        );
    }
}
