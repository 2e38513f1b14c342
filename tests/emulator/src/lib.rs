//! The kernel model that runs ringfence.sys under Unicorn.
