//! `GET /events`: timestamps no one sends by hand.

use crate::support::{TestDaemon, refused_alike};

#[test]
fn timestamps_out_of_any_range_are_refused_not_fatal() {
    let mut daemon = TestDaemon::start();
    for until in ["1e300", "inf", "nan", "-inf", "1.x"] {
        let answer = refused_alike(&mut daemon, "GET", &format!("/events?until={until}"), b"");
        assert_eq!(answer.status, 500, "until={until}");
    }
    for since in ["1e300", "inf"] {
        refused_alike(&mut daemon, "GET", &format!("/events?since={since}&until=1"), b"");
    }
}
