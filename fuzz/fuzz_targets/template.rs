//! Template parsing and everything done with a parsed template: listing its
//! variables, compiling its plan, expanding and rendering. Nothing may panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use pvct_core::template::Template;

fuzz_target!(|source: &str| {
    let Ok(template) = Template::parse(source) else { return };
    let names: Vec<String> = template.variables().into_iter().collect();
    let plan = template.plan(&names);
    assert_eq!(plan.literals.len(), plan.slots.len() + 1);
    let values: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), "v".to_owned())).collect();
    if template.includes().is_empty() {
        let _ = template.render(&values);
    }
    let _ = template.expand(&|_| Some("snippet {{x}}".to_owned()));
});
