//! The coverage report: how many rules of a rule directory compile, to which
//! stage, and why the others were refused, per logsource ringfence has events for.
