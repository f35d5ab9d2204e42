//! `docker ps`.

use berth_api::client::{Client, query};
use serde::Serialize;
use serde_json::Value;

use crate::cli::PsArgs;
use crate::commands::{Failure, Outcome, filters_json};
use crate::format::{self, ListKind, ListOptions};

/// `docker ps`: running containers (all with `-a`), `-n`/`-l` the newest of every state.
pub async fn list(client: &Client, args: PsArgs) -> Outcome {
    let format = ListKind::Containers.format(
        args.format.as_deref(),
        ListOptions {
            quiet: args.quiet,
            size: args.size,
            ..ListOptions::default()
        },
    );
    let limit = if args.latest && args.last == -1 {
        1
    } else {
        args.last
    };
    #[derive(Serialize)]
    struct Query {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        all: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<i64>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        size: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        filters: Option<String>,
    }
    let path = format!(
        "/containers/json{}",
        query(&Query {
            all: args.all,
            limit: (limit != -1).then_some(limit),
            // A format that shows sizes needs them computed, as Docker finds out from the template.
            size: args.size || (!args.quiet && format::uses_field(&format, "Size")),
            filters: filters_json(&args.filter)?,
        })
        .map_err(Failure::from)?
    );
    let summaries: Vec<Value> = client.get(&path).await?;
    let now = chrono::Utc::now();
    let rows: Vec<Value> = summaries
        .iter()
        .map(|summary| format::rows::container_row(summary, !args.no_trunc, now))
        .collect();
    print!(
        "{}",
        format::render_list(&format, ListKind::Containers, &rows).map_err(|e| Failure::new(e.to_string()))?
    );
    Ok(())
}
