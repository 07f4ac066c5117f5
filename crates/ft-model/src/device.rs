//! `--device`: choosing among the backends compiled into this build, at run time.
//!
//! Backends are cargo features (`flex`, `ndarray`, `wgpu`) forwarded from ft-cli down to burn. Asking
//! for one that is not compiled in is an error that names the feature to enable.

use crate::ModelError;
use burn::tensor::Device;
use std::fmt;
use std::str::FromStr;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The default CPU backend of this build (flex, else ndarray).
    #[default]
    Cpu,
    /// burn's flex backend (pure Rust, CPU).
    Flex,
    /// burn's ndarray backend (CPU, deprecated upstream).
    Ndarray,
    /// A GPU through wgpu: `Some(i)` is the i-th of [`wgpu_adapters`], `None` the best of them.
    Wgpu(Option<usize>),
    /// The best GPU adapter when the build has wgpu and the machine a GPU, else the CPU.
    Auto,
}

/// The backends compiled into this build, in order of preference for the CPU.
pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "flex") {
        v.push("flex");
    }
    if cfg!(feature = "ndarray") {
        v.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

impl FromStr for DeviceSpec {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "cpu" => return Ok(Self::Cpu),
            "flex" => return Ok(Self::Flex),
            "ndarray" => return Ok(Self::Ndarray),
            "wgpu" | "gpu" => return Ok(Self::Wgpu(None)),
            "auto" => return Ok(Self::Auto),
            _ => {}
        }
        if let Some(index) = lower.strip_prefix("wgpu:")
            && let Ok(i) = index.parse::<usize>()
        {
            return Ok(Self::Wgpu(Some(i)));
        }
        Err(ModelError::Device(format!(
            "--device \"{s}\" is not a device; use cpu, flex, ndarray, wgpu, wgpu:N or auto (this build has: {})",
            compiled_backends().join(", ")
        )))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Flex => write!(f, "flex"),
            Self::Ndarray => write!(f, "ndarray"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            Self::Auto => write!(f, "auto"),
        }
    }
}

fn not_compiled(name: &str, feature: &str) -> ModelError {
    ModelError::Device(format!(
        "--device {name}: this build of ft has no {feature} backend (compiled in: {}); rebuild with `--features {feature}`, e.g. `cargo run --release -p ft-cli --features {feature} -- …`",
        compiled_backends().join(", ")
    ))
}

impl DeviceSpec {
    /// Resolves the spec to the concrete backend it means on this machine: `Cpu` to flex (else
    /// ndarray); `Auto` to the best wgpu GPU adapter when the build has wgpu and the machine has a
    /// GPU, else to the CPU (a software rasterizer such as lavapipe does not count as a GPU); `Wgpu`
    /// to one adapter of [`wgpu_adapters`], by index (`Wgpu(Some(i))`). Asking for wgpu without the
    /// feature, or on a machine without an adapter, is an error naming the feature or listing what
    /// was found.
    pub fn resolve(self) -> Result<Self, ModelError> {
        match self {
            Self::Cpu => {
                if cfg!(feature = "flex") {
                    Ok(Self::Flex)
                } else if cfg!(feature = "ndarray") {
                    Ok(Self::Ndarray)
                } else {
                    Err(not_compiled("cpu", "flex"))
                }
            }
            Self::Auto => match best_adapter(wgpu_adapters(), false) {
                Some(i) if cfg!(feature = "wgpu") => Ok(Self::Wgpu(Some(i))),
                _ => Self::Cpu.resolve(),
            },
            Self::Flex if !cfg!(feature = "flex") => Err(not_compiled("flex", "flex")),
            Self::Ndarray if !cfg!(feature = "ndarray") => Err(not_compiled("ndarray", "ndarray")),
            Self::Wgpu(_) if !cfg!(feature = "wgpu") => Err(not_compiled(&self.to_string(), "wgpu")),
            Self::Wgpu(index) => {
                let adapters = wgpu_adapters();
                match index {
                    None => best_adapter(adapters, true).map(|i| Self::Wgpu(Some(i))).ok_or_else(|| no_adapter(&self)),
                    Some(i) if i < adapters.len() => Ok(self),
                    Some(_) => Err(no_adapter(&self)),
                }
            }
            other => Ok(other),
        }
    }

    /// The resolved spec in words, for messages and run records: `flex (CPU)`, or
    /// `wgpu:0 (NVIDIA H200, Vulkan, discrete GPU)`; for `Auto`, also why it chose what it chose.
    pub fn describe(self) -> Result<String, ModelError> {
        let resolved = self.resolve()?;
        let what = match resolved {
            Self::Flex | Self::Ndarray => format!("{resolved} (CPU)"),
            Self::Wgpu(Some(i)) => match wgpu_adapters().get(i) {
                Some(a) => format!("{resolved} ({a})"),
                None => resolved.to_string(),
            },
            other => other.to_string(),
        };
        if self != Self::Auto {
            return Ok(what);
        }
        let adapters = wgpu_adapters();
        let why = if !cfg!(feature = "wgpu") {
            "this build has no wgpu backend (`--features wgpu`)".to_string()
        } else if matches!(resolved, Self::Wgpu(_)) {
            "a GPU was found".to_string()
        } else if adapters.is_empty() {
            "no wgpu adapter was found".to_string()
        } else {
            format!("no GPU adapter, only software ones: {}", adapter_list(adapters))
        };
        Ok(format!("auto → {what}: {why}"))
    }

    /// The burn device (without autodiff) for this spec.
    pub fn device(self) -> Result<Device, ModelError> {
        let resolved = self.resolve()?;
        match resolved {
            #[cfg(feature = "flex")]
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)]
            Self::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(Some(i)) => {
                let adapters = wgpu_adapters();
                let adapter = adapters.get(i).ok_or_else(|| no_adapter(&resolved))?;
                Ok(Device::wgpu(adapter.device_kind.clone()))
            }
            other => Err(not_compiled(&other.to_string(), &other.to_string())),
        }
    }
}

/// One wgpu adapter of this machine, as burn's wgpu runtime will see it: those of the first graphics
/// API (Vulkan, then DX12, then GL; Metal on macOS) that has a GPU, else of the first that has any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// The driver's name for it (`NVIDIA H200`, `llvmpipe (LLVM 15.0.7, 256 bits)`).
    pub name: String,
    /// `discrete GPU`, `integrated GPU`, `virtual GPU`, `software (CPU)` or `other`.
    pub kind: &'static str,
    /// The graphics API (`Vulkan`, `Metal`, `Dx12`, `Gl`).
    pub api: String,
    /// Whether it is a real GPU (not a software rasterizer).
    pub is_gpu: bool,
    /// Lower is better: discrete, integrated, virtual, other, software.
    rank: u8,
    #[cfg(feature = "wgpu")]
    device_kind: burn::tensor::DeviceKind,
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}, {}", self.name, self.api, self.kind)
    }
}

fn adapter_list(adapters: &[Adapter]) -> String {
    adapters.iter().enumerate().map(|(i, a)| format!("wgpu:{i} = {a}")).collect::<Vec<_>>().join("; ")
}

fn best_adapter(adapters: &[Adapter], allow_software: bool) -> Option<usize> {
    adapters
        .iter()
        .enumerate()
        .filter(|(_, a)| allow_software || a.is_gpu)
        .min_by_key(|(i, a)| (a.rank, *i))
        .map(|(i, _)| i)
}

fn no_adapter(spec: &DeviceSpec) -> ModelError {
    let adapters = wgpu_adapters();
    let found = match adapters.is_empty() {
        true => "none found (no Vulkan, DX12, Metal or GL driver answered)".to_string(),
        false => adapter_list(adapters),
    };
    ModelError::Device(format!(
        "--device {spec}: no such wgpu adapter on this machine; adapters: {found}. Pick one with --device wgpu:N, use --device cpu, or install a Vulkan driver (on Debian without a GPU: `apt-get install -y mesa-vulkan-drivers libvulkan1`, the software driver lavapipe)"
    ))
}

/// The wgpu adapters of this machine (probed once per process); empty without the `wgpu` feature.
pub fn wgpu_adapters() -> &'static [Adapter] {
    #[cfg(feature = "wgpu")]
    {
        static ADAPTERS: std::sync::OnceLock<Vec<Adapter>> = std::sync::OnceLock::new();
        ADAPTERS.get_or_init(probe::adapters)
    }
    #[cfg(not(feature = "wgpu"))]
    &[]
}

#[cfg(feature = "wgpu")]
mod probe {
    use super::Adapter;
    use burn::tensor::DeviceKind;
    use burn::tensor::wgpu::wgpu;

    /// The graphics APIs burn's `WgpuBackend::Auto` tries, in its order.
    fn apis() -> Vec<wgpu::Backend> {
        if cfg!(target_os = "macos") {
            vec![wgpu::Backend::Metal]
        } else {
            vec![wgpu::Backend::Vulkan, wgpu::Backend::Dx12, wgpu::Backend::Gl]
        }
    }

    /// Polls a future to completion on this thread (wgpu's native adapter enumeration is ready at
    /// once; no executor needed).
    fn block_on<F: std::future::Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::yield_now();
        }
    }

    fn on(api: wgpu::Backend) -> Vec<wgpu::AdapterInfo> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: api.into(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        block_on(instance.enumerate_adapters(api.into())).iter().map(wgpu::Adapter::get_info).collect()
    }

    /// Each adapter with the `DeviceKind` burn addresses it by: the n-th adapter *of its type*.
    pub(super) fn adapters() -> Vec<Adapter> {
        let mut software_only = None;
        for api in apis() {
            let found = on(api);
            if found.iter().any(|a| a.device_type != wgpu::DeviceType::Cpu) {
                return describe(found);
            }
            if software_only.is_none() && !found.is_empty() {
                software_only = Some(found);
            }
        }
        software_only.map(describe).unwrap_or_default()
    }

    fn describe(found: Vec<wgpu::AdapterInfo>) -> Vec<Adapter> {
        let mut next = [0usize; 4];
        found
            .into_iter()
            .map(|info| {
                let (kind, rank, device_kind) = match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => ("discrete GPU", 0u8, DeviceKind::DiscreteGpu(next[0])),
                    wgpu::DeviceType::IntegratedGpu => ("integrated GPU", 1, DeviceKind::IntegratedGpu(next[1])),
                    wgpu::DeviceType::VirtualGpu => ("virtual GPU", 2, DeviceKind::VirtualGpu(next[2])),
                    wgpu::DeviceType::Other => ("other", 3, DeviceKind::DefaultDevice),
                    wgpu::DeviceType::Cpu => ("software (CPU)", 4, DeviceKind::Cpu),
                };
                if (rank as usize) < 3 {
                    next[rank as usize] += 1;
                }
                Adapter {
                    name: info.name,
                    kind,
                    api: format!("{:?}", info.backend),
                    is_gpu: rank < 4,
                    rank,
                    device_kind,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("WGPU:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu(Some(1)));
        assert_eq!("auto".parse::<DeviceSpec>().unwrap(), DeviceSpec::Auto);
        let err = "tpu".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(err.contains("\"tpu\"") && err.contains("wgpu:N"), "{err}");
    }

    #[test]
    fn cpu_resolves_to_a_compiled_backend() {
        let resolved = DeviceSpec::Cpu.resolve().unwrap();
        assert!(compiled_backends().contains(&resolved.to_string().as_str()));
        DeviceSpec::Cpu.device().unwrap();
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_names_the_feature() {
        let err = DeviceSpec::Wgpu(None).device().unwrap_err().to_string();
        assert!(err.contains("--features wgpu"), "{err}");
    }
}
