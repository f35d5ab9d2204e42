//! berthd's packet filter rules: one nftables table of its own (`ip berth-<bridge>`), written
//! whole from berthd's state in one atomic `nft -j` transaction each time it changes, so it can
//! never drift and cleanup is one delete. It holds:
//!
//! - `forward`: containers reach each other on one bridge and the outside world; nothing enters
//!   a bridge from elsewhere but replies and published ports; two networks never talk; an
//!   `--internal` network talks to no one outside itself.
//! - `prerouting`/`output` → `ports`: DNAT of published ports for traffic to the host's own
//!   addresses (from other hosts and from the host itself; loopback is the userland proxy's).
//! - `postrouting`: masquerade of what leaves a non-internal network.
//!
//! Beside it, `ip6 berth-<bridge>` holds the same `forward` isolation for IPv6 (the rules match
//! interfaces, not addresses, so they are the IPv4 ones) and nothing else: Docker 20.10 does no
//! IPv6 NAT without its experimental ip6tables, so neither does berth — containers' IPv6
//! addresses are routed as they are, and published ports reach them through the userland proxy,
//! which listens on `::` too.
//!
//! Coexisting with Docker: dockerd sets the iptables FORWARD policy to DROP (and loads
//! br_netfilter, so even traffic between two containers on one bridge passes there), and a drop
//! in any table's base chain is final. berthd therefore adds accept rules for its bridges to
//! Docker's `DOCKER-USER` chain when it exists — the hook Docker keeps for this — and removes
//! them when it stops. Those rules are plain `iifname`/`oifname … accept` so iptables-nft still
//! reads the chain.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use nftables::batch::Batch;
use nftables::expr::{CT, Payload, SetItem};
use nftables::expr::{
    Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, PayloadField, Prefix,
};
use nftables::helper::NftablesError;
use nftables::schema::{Chain, NfCmd, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{Accept, Drop, JumpTarget, Match, NAT, Operator, Return, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One bridge network's part of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRules {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// The network has IPv6 (its bridge is in the `ip6` table's rules).
    pub ipv6: bool,
    pub internal: bool,
    /// `enable_icc`: containers of the bridge talk to each other.
    pub icc: bool,
    /// `enable_ip_masquerade`: what leaves the bridge takes the host's address.
    pub masquerade: bool,
}

/// A published port: traffic for `host_ip:host_port` goes to `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForward {
    pub proto: Proto,
    /// `None`: every address of the host.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// Everything the table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub bridges: Vec<BridgeRules>,
    pub forwards: Vec<PortForward>,
}

/// Why the rules could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `nft` refused the rules or could not run
    #[error("nftables: {0}")]
    Nft(String),
}

impl From<NftablesError> for FirewallError {
    fn from(error: NftablesError) -> FirewallError {
        match error {
            NftablesError::NftFailed { stderr, hint, .. } => {
                FirewallError::Nft(format!("{hint}: {}", stderr.trim()))
            }
            other => FirewallError::Nft(other.to_string()),
        }
    }
}

/// The IPv4 table's family (and that of Docker's `filter` table).
const FAMILY: NfFamily = NfFamily::IP;

fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn field(protocol: &'static str, name: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(PayloadField {
        protocol: protocol.into(),
        field: name.into(),
    })))
}

fn text(value: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(value.into()))
}

fn prefix(net: Ipv4Net) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(text(net.network().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

fn compare(left: Expression<'static>, op: Operator, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn is(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    compare(left, Operator::EQ, right)
}

fn iif(name: &str) -> Statement<'static> {
    is(meta(MetaKey::Iifname), text(name))
}

fn oif(name: &str) -> Statement<'static> {
    is(meta(MetaKey::Oifname), text(name))
}

fn accept() -> Statement<'static> {
    Statement::Accept(None::<Accept>)
}

fn drop_it() -> Statement<'static> {
    Statement::Drop(None::<Drop>)
}

fn ct(key: &'static str, op: Operator, right: Expression<'static>) -> Statement<'static> {
    compare(
        Expression::Named(NamedExpression::CT(CT {
            key: key.into(),
            family: None,
            dir: None,
        })),
        op,
        right,
    )
}

fn local_destination() -> Statement<'static> {
    is(
        Expression::Named(NamedExpression::Fib(Fib {
            result: FibResult::Type,
            flags: [FibFlag::Daddr].into_iter().collect(),
        })),
        text("local"),
    )
}

/// Builds the table's chains and rules.
struct Writer {
    family: NfFamily,
    table: String,
    objects: Vec<NfObject<'static>>,
}

impl Writer {
    /// A table replaced whole: (re)created empty, ready for chains and rules.
    fn new(family: NfFamily, table_name: &str) -> Writer {
        let mut w = Writer {
            family,
            table: table_name.to_owned(),
            objects: Vec::new(),
        };
        // add + delete + add: replaces the table atomically whether or not it existed.
        w.objects
            .push(NfObject::CmdObject(NfCmd::Add(table(family, table_name))));
        w.objects
            .push(NfObject::CmdObject(NfCmd::Delete(table(family, table_name))));
        w.objects
            .push(NfObject::CmdObject(NfCmd::Add(table(family, table_name))));
        w
    }

    fn chain(&mut self, name: &str, base: Option<(NfChainType, NfHook, i32)>) {
        let mut chain = Chain {
            family: self.family,
            table: self.table.clone().into(),
            name: name.to_owned().into(),
            ..Chain::default()
        };
        if let Some((kind, hook, priority)) = base {
            chain._type = Some(kind);
            chain.hook = Some(hook);
            chain.prio = Some(priority);
            chain.policy = Some(NfChainPolicy::Accept);
        }
        self.objects
            .push(NfObject::CmdObject(NfCmd::Add(NfListObject::Chain(chain))));
    }

    fn rule(&mut self, chain: &str, expr: Vec<Statement<'static>>) {
        self.objects
            .push(NfObject::CmdObject(NfCmd::Add(NfListObject::Rule(Rule {
                family: self.family,
                table: self.table.clone().into(),
                chain: chain.to_owned().into(),
                expr: expr.into(),
                ..Rule::default()
            }))));
    }
}

fn table(family: NfFamily, name: &str) -> NfListObject<'static> {
    NfListObject::Table(Table {
        family,
        name: name.to_owned().into(),
        handle: None,
    })
}

/// The `forward` chain's rules for `bridges`, in order, for either family: replies come in;
/// containers of one bridge talk to each other unless icc is off; an internal bridge talks to
/// nobody else; others reach out but never into another bridge; nothing else comes in but
/// (`published`, IPv4's DNAT) the traffic of published ports.
fn forward_rules(w: &mut Writer, bridges: &[&BridgeRules], published: bool) {
    let all_bridges = Expression::Named(NamedExpression::Set(
        bridges
            .iter()
            .map(|b| SetItem::Element(text(b.bridge.clone())))
            .collect(),
    ));
    for b in bridges {
        let name = b.bridge.as_str();
        w.rule(
            "forward",
            vec![
                oif(name),
                ct(
                    "state",
                    Operator::IN,
                    Expression::List(vec![text("established"), text("related")]),
                ),
                accept(),
            ],
        );
        // Traffic between two ports of one bridge meets this hook only where br_netfilter is
        // loaded (dockerd loads it; so does Docker's own icc=false).
        let icc = if b.icc { accept() } else { drop_it() };
        w.rule("forward", vec![iif(name), oif(name), icc]);
        if b.internal {
            w.rule("forward", vec![iif(name), drop_it()]);
            w.rule("forward", vec![oif(name), drop_it()]);
            continue;
        }
        if published {
            w.rule(
                "forward",
                vec![oif(name), ct("status", Operator::IN, text("dnat")), accept()],
            );
        }
        w.rule(
            "forward",
            vec![
                iif(name),
                is(meta(MetaKey::Oifname), all_bridges.clone()),
                drop_it(),
            ],
        );
        w.rule("forward", vec![iif(name), accept()]);
        w.rule("forward", vec![oif(name), drop_it()]);
    }
}

/// The whole table as one transaction: (re)create it empty, then every chain and rule.
pub fn transaction(table_name: &str, rules: &Ruleset) -> Nftables<'static> {
    let mut w = Writer::new(FAMILY, table_name);
    w.chain("forward", Some((NfChainType::Filter, NfHook::Forward, 0)));
    w.chain("prerouting", Some((NfChainType::NAT, NfHook::Prerouting, -100)));
    w.chain("output", Some((NfChainType::NAT, NfHook::Output, -100)));
    w.chain("postrouting", Some((NfChainType::NAT, NfHook::Postrouting, 100)));
    w.chain("ports", None);

    let bridges: Vec<&BridgeRules> = rules.bridges.iter().collect();
    forward_rules(&mut w, &bridges, true);
    for b in rules.bridges.iter().filter(|b| !b.internal && b.masquerade) {
        w.rule(
            "postrouting",
            vec![
                is(field("ip", "saddr"), prefix(b.subnet)),
                compare(meta(MetaKey::Oifname), Operator::NEQ, text(b.bridge.clone())),
                Statement::Masquerade(None::<NAT>),
            ],
        );
    }

    w.rule(
        "prerouting",
        vec![
            local_destination(),
            Statement::Jump(JumpTarget {
                target: "ports".into(),
            }),
        ],
    );
    w.rule(
        "output",
        vec![
            compare(
                field("ip", "daddr"),
                Operator::NEQ,
                prefix("127.0.0.0/8".parse().expect("a valid net")),
            ),
            local_destination(),
            Statement::Jump(JumpTarget {
                target: "ports".into(),
            }),
        ],
    );
    // Containers reach published ports through the userland proxy, as Docker's do.
    for b in &rules.bridges {
        w.rule("ports", vec![iif(&b.bridge), Statement::Return(None::<Return>)]);
    }
    for f in &rules.forwards {
        let mut expr = Vec::new();
        if let Some(ip) = f.host_ip {
            expr.push(is(field("ip", "daddr"), text(ip.to_string())));
        }
        expr.push(is(
            field(f.proto.as_str(), "dport"),
            Expression::Number(u32::from(f.host_port)),
        ));
        expr.push(Statement::DNAT(Some(NAT {
            addr: Some(text(f.container_ip.to_string())),
            family: None,
            port: Some(Expression::Number(u32::from(f.container_port))),
            flags: None,
        })));
        w.rule("ports", expr);
    }
    Nftables {
        objects: w.objects.into(),
    }
}

/// The IPv6 table as one transaction: the `forward` isolation of the networks with IPv6 (no NAT,
/// so no DNAT of published ports and no masquerade).
pub fn transaction6(table_name: &str, rules: &Ruleset) -> Nftables<'static> {
    let mut w = Writer::new(NfFamily::IP6, table_name);
    w.chain("forward", Some((NfChainType::Filter, NfHook::Forward, 0)));
    let v6: Vec<&BridgeRules> = rules.bridges.iter().filter(|b| b.ipv6).collect();
    forward_rules(&mut w, &v6, false);
    Nftables {
        objects: w.objects.into(),
    }
}

/// Write the IPv6 table (replacing what it held).
pub fn apply6(table_name: &str, rules: &Ruleset) -> Result<(), FirewallError> {
    nftables::helper::apply_ruleset(&transaction6(table_name, rules))?;
    crate::explain!(
        "wrote nftables table ip6 {table_name}: IPv6 forwarding for {} network(s)",
        rules.bridges.iter().filter(|b| b.ipv6).count()
    );
    Ok(())
}

/// Write the table (replacing what it held).
pub fn apply(table_name: &str, rules: &Ruleset) -> Result<(), FirewallError> {
    nftables::helper::apply_ruleset(&transaction(table_name, rules))?;
    crate::explain!(
        "wrote nftables table ip {table_name}: forwarding and masquerade for {} network(s), DNAT for {} published port(s)",
        rules.bridges.len(),
        rules.forwards.len()
    );
    Ok(())
}

/// Delete the IPv4 and IPv6 tables (missing is fine).
pub fn delete(table_name: &str) -> Result<(), FirewallError> {
    for (family, word) in [(FAMILY, "ip"), (NfFamily::IP6, "ip6")] {
        let exists = nftables::helper::get_current_ruleset_with_args(
            None::<&str>,
            ["list", "table", word, table_name],
        )
        .is_ok();
        if !exists {
            continue;
        }
        let mut batch = Batch::new();
        batch.delete(table(family, table_name));
        nftables::helper::apply_ruleset(&batch.to_nftables())?;
        crate::explain!("deleted nftables table {word} {table_name}");
    }
    Ok(())
}

/// Docker's chain for rules of other programs, which its FORWARD chain runs first.
const DOCKER_USER: &str = "DOCKER-USER";

/// berthd's accept rules in DOCKER-USER: (handle, bridge); `None` when the chain is not there.
/// Read as plain JSON: the chain may hold iptables rules (`xt` expressions) that the typed
/// schema does not know, and they must not hide berth's.
fn docker_user_rules(bridges: &[String]) -> Option<Vec<(u32, String)>> {
    let listed = nftables::helper::get_current_ruleset_raw(
        None::<&str>,
        ["list", "chain", "ip", "filter", DOCKER_USER],
    )
    .ok()?;
    Some(accept_rules_in(&listed, bridges))
}

/// The `iifname|oifname "<bridge>" … accept` rules of an `nft -j list` answer.
fn accept_rules_in(listed: &str, bridges: &[String]) -> Vec<(u32, String)> {
    let listed: serde_json::Value = serde_json::from_str(listed).unwrap_or_default();
    let mut found = Vec::new();
    for rule in listed["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("rule"))
    {
        let expr = rule["expr"].as_array().map(Vec::as_slice).unwrap_or_default();
        let (Some(first), Some(last)) = (expr.first(), expr.last()) else {
            continue;
        };
        let matched = &first["match"];
        let key = matched["left"]["meta"]["key"].as_str();
        let interface = matched["right"].as_str().unwrap_or_default();
        let ours = matches!(key, Some("iifname" | "oifname"))
            && matched["op"] == "=="
            && last.get("accept").is_some()
            && bridges.iter().any(|b| b == interface);
        if let (true, Some(handle)) = (ours, rule["handle"].as_u64()) {
            found.push((handle as u32, interface.to_owned()));
        }
    }
    found
}

/// Accept traffic from and to `bridges` in Docker's DOCKER-USER chain, when Docker is there.
/// berthd's own table still filters that traffic (a drop there is final). Returns whether the
/// chain exists.
pub fn allow_in_docker_user(bridges: &[String]) -> Result<bool, FirewallError> {
    let Some(present) = docker_user_rules(bridges) else {
        return Ok(false);
    };
    let mut batch = Batch::new();
    let mut added = Vec::new();
    for bridge in bridges {
        if present.iter().filter(|(_, b)| b == bridge).count() >= 2 {
            continue;
        }
        for rule in [iif(bridge), oif(bridge)] {
            batch.add_cmd(NfCmd::Insert(NfListObject::Rule(Rule {
                family: FAMILY,
                table: "filter".into(),
                chain: DOCKER_USER.into(),
                expr: vec![
                    rule,
                    Statement::Counter(nftables::stmt::Counter::Anonymous(None)),
                    accept(),
                ]
                .into(),
                ..Rule::default()
            })));
        }
        added.push(bridge.as_str());
    }
    if added.is_empty() {
        return Ok(true);
    }
    nftables::helper::apply_ruleset(&batch.to_nftables())?;
    crate::explain!(
        "accepted traffic of {} in Docker's DOCKER-USER chain (Docker's FORWARD policy drops it otherwise)",
        added.join(", ")
    );
    Ok(true)
}

/// Take berthd's rules for `bridges` out of DOCKER-USER.
pub fn remove_from_docker_user(bridges: &[String]) -> Result<(), FirewallError> {
    let Some(present) = docker_user_rules(bridges) else {
        return Ok(());
    };
    if present.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new();
    for (handle, _) in &present {
        batch.delete(NfListObject::Rule(Rule {
            family: FAMILY,
            table: "filter".into(),
            chain: DOCKER_USER.into(),
            handle: Some(*handle),
            ..Rule::default()
        }));
    }
    nftables::helper::apply_ruleset(&batch.to_nftables())?;
    crate::explain!(
        "removed berth's rules from Docker's DOCKER-USER chain for {}",
        bridges.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ruleset {
        Ruleset {
            bridges: vec![
                BridgeRules {
                    bridge: "berth0".into(),
                    subnet: "10.66.0.0/16".parse().unwrap(),
                    ipv6: true,
                    internal: false,
                    icc: true,
                    masquerade: true,
                },
                BridgeRules {
                    bridge: "brb-0123456789a".into(),
                    subnet: "10.67.0.0/24".parse().unwrap(),
                    ipv6: false,
                    internal: true,
                    icc: true,
                    masquerade: true,
                },
            ],
            forwards: vec![PortForward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                container_ip: Ipv4Addr::new(10, 66, 0, 2),
                container_port: 80,
            }],
        }
    }

    #[test]
    fn the_table_is_replaced_whole_in_one_transaction() {
        let json = serde_json::to_value(transaction("berth-berth0", &sample())).unwrap();
        let objects = json["nftables"].as_array().unwrap();
        assert_eq!(objects[0]["add"]["table"]["name"], "berth-berth0");
        assert!(objects[1]["delete"]["table"].is_object());
        assert!(objects[2]["add"]["table"].is_object());
        let text = json.to_string();
        assert!(
            text.contains(r#""dnat":{"addr":"10.66.0.2","port":80}"#),
            "{text}"
        );
        assert!(text.contains(r#""masquerade":null"#), "{text}");
        // an internal network gets no masquerade
        assert_eq!(text.matches("masquerade").count(), 1);
    }

    #[test]
    fn berths_rules_are_found_among_iptables_ones() {
        // What `nft -j list chain ip filter DOCKER-USER` answers with an iptables rule in it.
        let listed = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 7}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 62, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "berth0"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 63, "expr": [{"xt": {"type": "match", "name": "conntrack"}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 64, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "other0"}}, {"accept": null}]}},
            {"rule": {"family": "ip", "table": "filter", "chain": "DOCKER-USER", "handle": 8, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"return": null}]}}]}"#;
        assert_eq!(
            accept_rules_in(listed, &["berth0".to_owned()]),
            vec![(62, "berth0".to_owned())]
        );
    }

    #[test]
    fn the_rules_are_what_nft_expects() {
        // `nft -c` checks a transaction without applying it. The tests run as root with nft
        // installed (CI installs it): a machine without them fails here, it does not pass.
        assert!(nix::unistd::geteuid().is_root(), "this test needs root");
        let checked = nftables::helper::apply_ruleset_with_args(
            &transaction("berth-check", &sample()),
            None::<&str>,
            ["-c"],
        );
        assert!(
            checked.is_ok(),
            "nft refused the rules (or is missing): {checked:?}"
        );
        let checked6 = nftables::helper::apply_ruleset_with_args(
            &transaction6("berth-check", &sample()),
            None::<&str>,
            ["-c"],
        );
        assert!(checked6.is_ok(), "nft refused the IPv6 rules: {checked6:?}");
    }

    #[test]
    fn the_ipv6_table_isolates_only_networks_with_ipv6_and_has_no_nat() {
        let text = serde_json::to_value(transaction6("berth-berth0", &sample()))
            .unwrap()
            .to_string();
        assert!(text.contains(r#""family":"ip6""#), "{text}");
        assert!(text.contains("berth0"), "{text}");
        assert!(!text.contains("brb-0123456789a"), "{text}");
        assert!(!text.contains("dnat") && !text.contains("masquerade"), "{text}");
    }
}
