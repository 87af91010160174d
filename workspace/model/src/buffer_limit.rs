//! The largest single buffer a device allows: a GPU caps each buffer (lavapipe at 128 MiB,
//! real GPUs at gigabytes); the CPU has no such limit.

use burn::tensor::Device;

/// A device's largest buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferLimit {
    /// In bytes: no tensor on the device may be larger.
    pub bytes: u64,
    /// The device, as run manifests name it.
    pub device: String,
}

/// `device`'s largest buffer when it is the GPU cavern acquired (`--device gpu`); `None` for
/// the CPU.
#[cfg_attr(not(feature = "gpu"), allow(unused_variables))]
pub fn buffer_limit(device: &Device) -> Option<BufferLimit> {
    #[cfg(feature = "gpu")]
    if let Some(gpu) = crate::gpu::gpu_of(device) {
        return Some(BufferLimit {
            bytes: gpu.max_buffer_bytes,
            device: gpu.label(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_has_no_buffer_limit() {
        assert_eq!(buffer_limit(&Device::flex()), None);
    }
}
