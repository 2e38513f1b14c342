//! The companion library: device interface, decoding, rendering.
