//! Sigma rules in the companion stage: compiled once at start-up
//! (ringfence-detect), evaluated on every enriched event, and every matching
//! rule reported — ECS `rule.*` and `threat.*`, Sysmon's `RuleName`, a mark in
//! the table — and counted for the summary line and the service's health.
//!
//! Rules come as YAML (`--sigma`, evaluated by ringfence-detect's evaluator) or
//! compiled in a content format 2 ([`content`]: the companion's stage of the
//! content the sensor evaluates in the kernel); a rule given both ways (same
//! Sigma id) runs once, from the content.

pub mod content;
pub mod event;

use std::io::Write;
use std::path::{Path, PathBuf};

use ringfence_detect::{Compilation, Matches, RuleMeta, RuleSet, Scratch};
use ringfence_wire::Record;

use crate::commands::Failure;
use crate::doc::{Doc, Leaf};
use crate::enrich::stage::Enrichment;
pub use content::{ContentStage, StageVerdict};
pub use event::SigmaEvent;

/// Counters of the Sigma stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectionCounts {
    /// Rules compiled and evaluated (from YAML and from the content).
    pub rules_loaded: u64,
    /// Rules (or documents) refused at start-up, each reported then.
    pub rules_refused: u64,
    /// Events at least one rule matched.
    pub events_matched: u64,
    /// Rule matches, over all events.
    pub detections: u64,
    /// Events some rule could not be decided on (a field the companion could not establish:
    /// a path on an unknown volume, a SID without a name, an image file not read).
    pub events_undecided: u64,
    /// Detection rules of a format-2 content evaluated here.
    pub content_rules: u64,
    /// Rules given as YAML that the content already holds (same Sigma id): evaluated once, from it.
    pub yaml_rules_in_content: u64,
    /// Events the content's filter dropped here, no rule having matched: not written.
    pub events_filtered: u64,
}

/// Compiles the Sigma rules under `paths` (files or directories). Each refused rule is
/// reported on `diag` with its id, title, file and the construct, and the others load; a
/// path that cannot be read, or holds no Sigma rule at all, fails naming it.
pub fn load(paths: &[PathBuf], diag: &mut (impl Write + ?Sized)) -> Result<Detector, Failure> {
    load_with(paths, None, diag)
}

/// [`load`], with the companion's stage of a format-2 `content` besides: a YAML rule whose
/// Sigma id the content holds is evaluated once, from the content, and said so on `diag`.
pub fn load_with(
    paths: &[PathBuf],
    content: Option<ContentStage>,
    diag: &mut (impl Write + ?Sized),
) -> Result<Detector, Failure> {
    let mut compilation = Compilation::default();
    for path in paths {
        let before = (compilation.rules.len(), compilation.refusals.len());
        compilation.add_path(path).map_err(|e| Failure::ReadFile { path: e.path, error: e.error })?;
        if (compilation.rules.len(), compilation.refusals.len()) == before {
            return Err(no_rule(path));
        }
    }
    for refusal in &compilation.refusals {
        writeln!(diag, "ringfence: Sigma rule refused: {refusal}")?;
    }
    let refused = compilation.refusals.len();
    let mut rules = compilation.rules;
    let mut in_content = 0u64;
    if let Some(stage) = &content {
        rules.retain(|r| {
            let keep = !stage.has_sigma_id(&r.meta.id);
            in_content = in_content.saturating_add(u64::from(!keep));
            keep
        });
        if in_content > 0 {
            writeln!(
                diag,
                "ringfence: {in_content} Sigma rule(s) given as YAML are in the content too: evaluated once, from it"
            )?;
        }
    }
    let set = RuleSet::new(rules).map_err(|e| Failure::Sigma { message: e.to_string() })?;
    let mut detector = Detector::new(set, refused);
    detector.counts.yaml_rules_in_content = in_content;
    if let Some(stage) = content {
        detector = detector.with_content(stage);
    }
    Ok(detector)
}

fn no_rule(path: &Path) -> Failure {
    Failure::Sigma { message: format!("{}: no Sigma rule (no .yml or .yaml file holds one)", path.display()) }
}

/// A compiled rule set, and the companion's stage of a format-2 content, with their
/// evaluation buffers and counters.
#[derive(Debug)]
pub struct Detector {
    set: RuleSet,
    stage: Option<ContentStage>,
    /// Every rule that can match: the YAML rules, then the content's detection rules.
    catalog: Vec<RuleMeta>,
    scratch: Scratch,
    counts: DetectionCounts,
}

impl Detector {
    pub fn new(set: RuleSet, refused: usize) -> Self {
        let counts = DetectionCounts {
            rules_loaded: set.rules().len() as u64,
            rules_refused: refused as u64,
            ..DetectionCounts::default()
        };
        let catalog = set.rules().iter().map(|r| r.meta.clone()).collect();
        Detector { set, stage: None, catalog, scratch: Scratch::default(), counts }
    }

    /// Evaluates `stage`'s content too, on every event.
    pub fn with_content(mut self, stage: ContentStage) -> Self {
        self.catalog.extend(stage.rules().cloned());
        let n = stage.rule_count() as u64;
        self.counts.content_rules = n;
        self.counts.rules_loaded = self.counts.rules_loaded.saturating_add(n);
        self.stage = Some(stage);
        self
    }

    pub fn counts(&self) -> DetectionCounts {
        self.counts
    }

    pub fn rules(&self) -> &RuleSet {
        &self.set
    }

    /// Every rule a [`Detection`] may name, by its indices.
    pub fn catalog(&self) -> &[RuleMeta] {
        &self.catalog
    }

    /// Evaluates every rule on `record` with its enrichment; counts the outcome.
    pub fn detect(&mut self, record: &Record<'_>, enrichment: Option<&Enrichment>) -> Detection {
        let Some(event) = SigmaEvent::new(record, enrichment) else { return Detection::default() };
        let Matches { mut matched, undecided } = self.set.evaluate_with(&mut self.scratch, &event);
        let mut undecided = undecided.len();
        let mut filtered = false;
        if let Some(stage) = &mut self.stage {
            let verdict = stage.evaluate(&event, Some(record));
            let base = self.set.rules().len();
            matched.extend(verdict.matched.iter().map(|&i| base.saturating_add(i)));
            undecided = undecided.saturating_add(verdict.undecided);
            filtered = verdict.droppable();
        }
        let add = |n: &mut u64, by: usize| *n = n.saturating_add(by as u64);
        if !matched.is_empty() {
            add(&mut self.counts.events_matched, 1);
            add(&mut self.counts.detections, matched.len());
        }
        if undecided > 0 {
            add(&mut self.counts.events_undecided, 1);
        }
        if filtered {
            add(&mut self.counts.events_filtered, 1);
        }
        Detection { matched, filtered }
    }
}

/// The rules that matched one event: indices into [`Detector::catalog`], ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Detection {
    pub matched: Vec<usize>,
    /// The content's filter drops the event (and no rule matched it).
    pub filtered: bool,
}

impl Detection {
    pub fn is_empty(&self) -> bool {
        self.matched.is_empty()
    }

    pub fn rules<'a>(&'a self, catalog: &'a [RuleMeta]) -> impl Iterator<Item = &'a RuleMeta> + 'a {
        self.matched.iter().filter_map(|&i| catalog.get(i))
    }
}

/// MITRE ATT&CK's enterprise tactics: Sigma's tag, the name, the id.
const TACTICS: &[(&str, &str, &str)] = &[
    ("reconnaissance", "Reconnaissance", "TA0043"),
    ("resource-development", "Resource Development", "TA0042"),
    ("initial-access", "Initial Access", "TA0001"),
    ("execution", "Execution", "TA0002"),
    ("persistence", "Persistence", "TA0003"),
    ("privilege-escalation", "Privilege Escalation", "TA0004"),
    ("defense-evasion", "Defense Evasion", "TA0005"),
    ("credential-access", "Credential Access", "TA0006"),
    ("discovery", "Discovery", "TA0007"),
    ("lateral-movement", "Lateral Movement", "TA0008"),
    ("collection", "Collection", "TA0009"),
    ("command-and-control", "Command and Control", "TA0011"),
    ("exfiltration", "Exfiltration", "TA0010"),
    ("impact", "Impact", "TA0040"),
];

/// One value when there is one, an array when there are several.
fn one_or_many(mut values: Vec<String>) -> Leaf {
    if values.len() == 1 { Leaf::Str(values.remove(0)) } else { Leaf::Strs(values) }
}

fn push_once(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

/// Adds the matched rules of `detection` to an event's ECS document.
pub fn put_ecs(doc: &mut Doc, catalog: &[RuleMeta], detection: &Detection, content_rule: Option<&str>) {
    if detection.is_empty() {
        return;
    }
    if let Some(name) = content_rule.filter(|n| !n.is_empty()) {
        doc.put("ringfence.content_rule.name", Leaf::Str(name.to_owned()));
    }
    let rules: Vec<&RuleMeta> = detection.rules(catalog).collect();
    doc.put("rule.id", one_or_many(rules.iter().map(|r| r.id.clone()).collect()));
    doc.put("rule.name", one_or_many(rules.iter().map(|r| r.title.clone()).collect()));
    doc.put("rule.ruleset", Leaf::Static("sigma"));
    let level = |r: &&RuleMeta| r.level.map_or("none", |l| l.name()).to_owned();
    doc.put("ringfence.rule.level", one_or_many(rules.iter().map(level).collect()));
    let (mut techniques, mut tactic_names, mut tactic_ids) = (Vec::new(), Vec::new(), Vec::new());
    for rule in &rules {
        rule.attack_techniques().for_each(|t| push_once(&mut techniques, t));
        for tag in rule.attack_tactics() {
            if let Some((_, name, id)) = TACTICS.iter().find(|(t, _, _)| *t == tag) {
                push_once(&mut tactic_names, (*name).to_owned());
                push_once(&mut tactic_ids, (*id).to_owned());
            }
        }
    }
    if techniques.is_empty() && tactic_names.is_empty() {
        return;
    }
    doc.put("threat.framework", Leaf::Static("MITRE ATT&CK"));
    if !techniques.is_empty() {
        doc.put("threat.technique.id", one_or_many(techniques));
    }
    if !tactic_names.is_empty() {
        doc.put("threat.tactic.name", one_or_many(tactic_names));
        doc.put("threat.tactic.id", one_or_many(tactic_ids));
    }
}

/// Sysmon's `RuleName` for an event: the content's include rule, then the title of each
/// matched Sigma rule, joined with `; ` (Sysmon has one free-text RuleName per event, and a
/// consumer splitting it finds every name; dropping all but the first would hide detections).
/// `None` when there is neither.
pub fn sysmon_rule_name(
    catalog: &[RuleMeta],
    detection: &Detection,
    content_rule: Option<&str>,
) -> Option<String> {
    let names: Vec<&str> = content_rule
        .filter(|n| !n.is_empty())
        .into_iter()
        .chain(detection.rules(catalog).map(|r| r.title.as_str()))
        .collect();
    (!names.is_empty()).then(|| names.join("; "))
}

/// The table's mark of a detection: ` !! SIGMA <level> <title> [<techniques>]`, per rule.
pub fn table_mark(catalog: &[RuleMeta], detection: &Detection) -> String {
    let mut out = String::new();
    for rule in detection.rules(catalog) {
        out.push_str(" !! SIGMA ");
        out.push_str(rule.level.map_or("none", |l| l.name()));
        out.push(' ');
        out.push_str(&rule.title);
        let techniques: Vec<String> = rule.attack_techniques().collect();
        if !techniques.is_empty() {
            out.push_str(" [");
            out.push_str(&techniques.join(","));
            out.push(']');
        }
    }
    out
}
