//! The `wdk` backend: written at the end of this increment series.
