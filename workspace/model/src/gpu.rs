//! The GPU device (`--device gpu`): burn's wgpu runtime pinned to the platform's own graphics
//! API — Metal on macOS, DirectX 12 and then Vulkan on Windows, Vulkan elsewhere. Pinning keeps
//! wgpu from falling back to OpenGL, or to nothing useful, without saying so.

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuBackend;
use std::sync::OnceLock;

/// The graphics APIs tried, in order, on this platform.
const PINNED: &[WgpuBackend] = if cfg!(target_os = "macos") {
    &[WgpuBackend::Metal]
} else if cfg!(windows) {
    &[WgpuBackend::Dx12, WgpuBackend::Vulkan]
} else {
    &[WgpuBackend::Vulkan]
};

/// A GPU adapter cavern runs on.
#[derive(Clone, Debug)]
pub struct Gpu {
    /// The burn device on that adapter.
    pub device: Device,
    /// The adapter's name as its driver reports it, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub adapter: String,
    /// The graphics API it runs on, e.g. `Vulkan`.
    pub api: String,
    /// The largest buffer a kernel may bind, in bytes: no tensor on this device may be larger.
    pub max_buffer_bytes: u64,
}

impl Gpu {
    /// How run manifests and `cavern devices` name it: `wgpu Vulkan: llvmpipe (...)`.
    pub fn label(&self) -> String {
        format!("wgpu {}: {}", self.api, self.adapter)
    }
}

/// The process's GPU once acquired.
static GPU: OnceLock<Result<Gpu, String>> = OnceLock::new();

/// The process's GPU, acquired on first use and shared afterwards (a wgpu runtime is set up once
/// per process). The error says which APIs were tried, why each failed and how to get a device.
pub fn gpu() -> Result<Gpu, String> {
    GPU.get_or_init(acquire).clone()
}

/// The GPU `device` is, if it is the one [`gpu`] acquired; `None` for every other device.
pub(crate) fn gpu_of(device: &Device) -> Option<Gpu> {
    match GPU.get() {
        Some(Ok(gpu)) if gpu.device == *device => Some(gpu.clone()),
        _ => None,
    }
}

/// Tries each pinned API in turn.
fn acquire() -> Result<Gpu, String> {
    let mut failures = Vec::new();
    for &api in PINNED {
        match Device::wgpu_options().graphics_api(api).init_with_setup() {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                let limits = setup.device.limits();
                return Ok(Gpu {
                    device,
                    adapter: info.name,
                    api: format!("{:?}", info.backend),
                    max_buffer_bytes: limits
                        .max_storage_buffer_binding_size
                        .min(limits.max_buffer_size),
                });
            }
            Err(e) => failures.push(format!("{api:?}: {e}")),
        }
    }
    Err(format!(
        "no GPU adapter found ({}); install the GPU's Vulkan, Metal or DirectX 12 driver \
         (on Debian, `apt-get install mesa-vulkan-drivers libvulkan1` gives lavapipe, a software \
         Vulkan device), or use `--device cpu`",
        failures.join("; ")
    ))
}
