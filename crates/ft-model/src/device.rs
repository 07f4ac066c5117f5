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
    /// A GPU through wgpu; `None` lets wgpu pick the best adapter.
    Wgpu(Option<usize>),
    /// A GPU when the build has wgpu, else the CPU.
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
    /// Resolves the spec to the concrete backend it means in this build (`Cpu` and `Auto` resolved).
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
            Self::Auto => {
                if cfg!(feature = "wgpu") {
                    Ok(Self::Wgpu(None))
                } else {
                    Self::Cpu.resolve()
                }
            }
            Self::Flex if !cfg!(feature = "flex") => Err(not_compiled("flex", "flex")),
            Self::Ndarray if !cfg!(feature = "ndarray") => Err(not_compiled("ndarray", "ndarray")),
            Self::Wgpu(_) if !cfg!(feature = "wgpu") => Err(not_compiled(&self.to_string(), "wgpu")),
            other => Ok(other),
        }
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
            Self::Wgpu(index) => {
                use burn::tensor::DeviceKind;
                let kind = match index {
                    None => DeviceKind::DefaultDevice,
                    Some(i) => DeviceKind::DiscreteGpu(i),
                };
                Ok(Device::wgpu(kind))
            }
            other => Err(not_compiled(&other.to_string(), &other.to_string())),
        }
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
