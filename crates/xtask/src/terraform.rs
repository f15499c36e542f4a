//! The Terraform part of the replay, from `deploy/terraform` parsed with
//! hcl-rs: the providers of `terraform init`, the root variables' defaults,
//! what the selected server module would create, and the outputs.

use std::collections::BTreeMap;

use anyhow::Context;
use hcl::{Block, Body, Expression};

use crate::replay::{Phase, Replay};

const DIR: &str = "deploy/terraform";
const VERSIONS: &str = "deploy/terraform/versions.tf";
const VARIABLES: &str = "deploy/terraform/variables.tf";
const MAIN: &str = "deploy/terraform/main.tf";
const OUTPUTS: &str = "deploy/terraform/outputs.tf";

fn parse(r: &Replay, rel: &str) -> anyhow::Result<Body> {
    hcl::parse(&r.read(rel)?).with_context(|| format!("cannot parse {rel}"))
}

fn blocks<'a>(body: &'a Body, kind: &'a str) -> impl Iterator<Item = &'a Block> {
    body.blocks().filter(move |b| b.identifier() == kind)
}

fn label(block: &Block, i: usize) -> String {
    block.labels().get(i).map(|l| l.as_str().to_owned()).unwrap_or_default()
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// A value as a person reads it: strings unquoted, the rest as HCL.
fn show(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `var.NAME` → `NAME`.
fn variable_name(expr: &Expression) -> Option<String> {
    let text = expr.to_string();
    text.strip_prefix("var.").filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).map(str::to_owned)
}

pub fn replay(r: &mut Replay) -> anyhow::Result<()> {
    let versions = parse(r, VERSIONS)?;
    let mut providers = Vec::new();
    for terraform in blocks(&versions, "terraform") {
        for required in blocks(terraform.body(), "required_providers") {
            for provider in required.body().attributes() {
                if let Expression::Object(fields) = provider.expr() {
                    let field = |k: &str| fields.iter().find(|(key, _)| key.to_string() == k).map(|(_, v)| show(v));
                    providers.push(format!(
                        "{} {}",
                        field("source").unwrap_or_default(),
                        field("version").unwrap_or_default()
                    ));
                }
            }
        }
    }
    r.push(Phase::Terraform, VERSIONS, format!("terraform init: providers {}", providers.join(", ")));

    let defaults: BTreeMap<String, String> = blocks(&parse(r, VARIABLES)?, "variable")
        .filter_map(|b| Some((label(b, 0), show(attr(b.body(), "default")?))))
        .collect();
    let var = |name: &str| defaults.get(name).cloned().unwrap_or_else(|| format!("var.{name}"));
    let provider = var("server_provider");
    r.push(
        Phase::Terraform,
        VARIABLES,
        format!(
            "variables: server_provider = \"{provider}\", node_count = {}, cluster_name = \"{}\"",
            var("node_count"),
            var("cluster_name")
        ),
    );

    let main = parse(r, MAIN)?;
    let node_count: u32 = var("node_count").parse().unwrap_or(1);
    let mut to_add = 0;
    for module in blocks(&main, "module") {
        let name = label(module, 0);
        let source = attr(module.body(), "source").map(show).unwrap_or_default();
        let selected = attr(module.body(), "count").is_some_and(|c| c.to_string().contains(&format!("\"{provider}\"")));
        if !selected {
            r.push(Phase::Terraform, MAIN, format!("module.{name} ({source}): count = 0, not the selected provider"));
            continue;
        }
        let module_main = format!("{DIR}/{}/main.tf", source.trim_start_matches("./"));
        // An attribute of a module resource, resolved through the module
        // call's argument to the root variable's default.
        let resolve = |expr: &Expression| -> String {
            let Some(arg) = variable_name(expr) else { return show(expr) };
            match attr(module.body(), &arg) {
                Some(given) => variable_name(given).map_or_else(|| show(given), |root| var(&root)),
                None => expr.to_string(),
            }
        };
        for resource in blocks(&parse(r, &module_main)?, "resource") {
            let address = format!("{}.{}", label(resource, 0), label(resource, 1));
            let counted = attr(resource.body(), "count").is_some_and(|c| c.to_string().contains("node_count"));
            let details: Vec<String> = ["plan", "type", "metro", "location", "operating_system", "os", "billing_cycle"]
                .iter()
                .filter_map(|k| Some(format!("{k} {}", resolve(attr(resource.body(), k)?))))
                .collect();
            let (count, n) = if counted { (format!(" × {node_count}"), node_count) } else { (String::new(), 1) };
            to_add += n;
            let details = if details.is_empty() { String::new() } else { format!(" ({})", details.join(", ")) };
            r.push(Phase::Terraform, &module_main, format!("module.{name}: + {address}{count}{details}"));
        }
    }
    if provider == "own" {
        r.push(
            Phase::Terraform,
            VARIABLES,
            "servers: your own (var.own_servers), installed over PXE by the Tinkerbell workflow below; nothing rented",
        );
    }
    for resource in blocks(&main, "resource") {
        let address = format!("{}.{}", label(resource, 0), label(resource, 1));
        let target = attr(resource.body(), "filename").map(|f| {
            let f = f.to_string();
            match f.split("${var.").nth(1).and_then(|rest| rest.split('}').next()) {
                Some(v) => format!(" -> {}", var(v)),
                None => format!(" -> {}", f.trim_matches('"')),
            }
        });
        to_add += 1;
        r.push(Phase::Terraform, MAIN, format!("+ {address}{}", target.unwrap_or_default()));
    }
    r.push(Phase::Terraform, MAIN, format!("Plan: {to_add} to add, 0 to change, 0 to destroy"));
    let outputs: Vec<String> = blocks(&parse(r, OUTPUTS)?, "output").map(|b| label(b, 0)).collect();
    r.push(Phase::Terraform, OUTPUTS, format!("Apply complete! Outputs: {}", outputs.join(", ")));
    Ok(())
}
