//! `docker logs`.

use berth_api::client::{Client, query};
use futures_util::TryStreamExt;
use http::Method;
use http_body_util::BodyExt;
use tokio::io::AsyncRead;

use super::stream::{copy_raw, demultiplex};
use super::timestamp::get_timestamp;
use super::{inspect_container, path_segment};
use crate::cli::LogsArgs;
use crate::commands::{Failure, Outcome};

/// A response body as a reader, for streams that never end on their own (`logs -f`, events).
pub(super) fn body_reader(response: http::Response<hyper::body::Incoming>) -> impl AsyncRead + Unpin {
    let chunks = response
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other);
    tokio_util::io::StreamReader::new(chunks)
}

/// A `--since`/`--until` value for the daemon, or Docker's error for the flag.
pub(super) fn time_value(flag: &str, value: Option<&str>) -> Result<Option<String>, Failure> {
    value
        .map(|v| {
            get_timestamp(v, chrono::Utc::now())
                .map_err(|e| Failure::new(format!("invalid value for \"{flag}\": {e}")))
        })
        .transpose()
}

/// `docker logs [-f] [--tail N] [-t] [--since T] [--until T]`.
pub async fn logs(client: &Client, args: LogsArgs) -> Outcome {
    let container = inspect_container(client, &args.container).await?;
    let mut params: Vec<(&str, String)> = vec![("stdout", "1".into()), ("stderr", "1".into())];
    if let Some(since) = time_value("since", args.since.as_deref())? {
        params.push(("since", since));
    }
    if let Some(until) = time_value("until", args.until.as_deref())? {
        params.push(("until", until));
    }
    if args.timestamps {
        params.push(("timestamps", "1".into()));
    }
    if args.follow {
        params.push(("follow", "1".into()));
    }
    params.push(("tail", args.tail.clone()));
    if args.details {
        params.push(("details", "1".into()));
    }
    let path = format!(
        "/containers/{}/logs{}",
        path_segment(&container.id),
        query(&params).map_err(Failure::from)?
    );
    let response = client.request(Method::GET, &path, None, Client::empty()).await?;
    let reader = body_reader(response);
    if container.config.tty {
        copy_raw(reader, true).await
    } else {
        demultiplex(reader, true, true).await
    }
}
