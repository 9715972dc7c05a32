//! Backends by name: which burn device a run computes on, and in which float precision.

use burn::tensor::{DType, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A burn backend a run can use, chosen by name at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn's pure-Rust CPU backend (the default, fastest on CPU here).
    Flex,
    /// The ndarray CPU backend.
    Ndarray,
    /// The wgpu GPU backend (cargo feature `wgpu`, on by default): Vulkan, Metal or DX12, or
    /// Mesa's lavapipe software Vulkan driver on a machine without a GPU.
    Wgpu,
}

impl Backend {
    /// Every backend the library knows, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Ndarray, Backend::Wgpu];

    /// The CPU backends (always compiled in).
    pub const CPU: [Backend; 2] = [Backend::Flex, Backend::Ndarray];

    /// The name used in sweep files and CSV rows.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The backend called `name`, or an error listing the valid names.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| Error::BackendUnavailable {
                name: name.to_string(),
                reason: format!("unknown backend (expected one of: {})", names(&Self::ALL)),
            })
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex | Backend::Ndarray => true,
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends this build includes.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Whether runs on this backend use a GPU (and must be scheduled as such).
    pub fn is_gpu(self) -> bool {
        self == Backend::Wgpu
    }

    /// The plain (non-autodiff) device of this backend, or why it cannot be had (not compiled
    /// in, or no adapter on this machine). The wgpu device is acquired once per process.
    #[allow(deprecated)] // burn 0.22 deprecates ndarray, which users still name.
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            Backend::Ndarray => Ok(Device::ndarray()),
            Backend::Wgpu => wgpu_device(),
        }
    }

    /// Whether the backend computes in `precision` (f64 needs GPU support on wgpu).
    pub fn supports(self, precision: Precision) -> Result<bool> {
        Ok(self.device()?.supports_dtype(precision.dtype()))
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    use std::sync::OnceLock;
    // A wgpu runtime can be initialised once per process; keep the outcome.
    static DEVICE: OnceLock<std::result::Result<Device, String>> = OnceLock::new();
    DEVICE
        .get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| Error::BackendUnavailable {
            name: "wgpu".into(),
            reason: format!(
                "{reason} (install a Vulkan driver — e.g. Debian's mesa-vulkan-drivers for a \
                 CPU fallback — or use one of: {})",
                names(&[Backend::Flex, Backend::Ndarray])
            ),
        })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::BackendUnavailable {
        name: "wgpu".into(),
        reason: format!(
            "this build has no wgpu support (rebuild with the `wgpu` cargo feature, on by \
             default) — available: {}",
            names(&Backend::compiled())
        ),
    })
}

fn names(backends: &[Backend]) -> String {
    backends
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Float precision of a run's tensors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats (the default, what the reference numbers use).
    #[default]
    F32,
    /// 64-bit floats (for tests against finite differences).
    F64,
}

impl Precision {
    /// burn's dtype for this precision.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

/// Where and how tensors are made: a device and an explicit float dtype.
///
/// Every tensor the library creates goes through a `Ctx`, so the precision is a property of
/// the run rather than a device-global setting, and runs of different precisions can share a
/// process.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The device tensors live on (an autodiff device for training).
    pub device: Device,
    /// The float dtype of every created tensor.
    pub dtype: DType,
}

impl Ctx {
    /// A context on `device` with `precision`.
    pub fn new(device: Device, precision: Precision) -> Self {
        Self {
            device,
            dtype: precision.dtype(),
        }
    }

    /// The same dtype on the plain (non-autodiff) device.
    pub fn inference(&self) -> Self {
        Self {
            device: self.device.clone().inner(),
            dtype: self.dtype,
        }
    }

    /// A matrix from row-major host data.
    ///
    /// # Shapes
    /// - `data`: `rows * cols` values → `[rows, cols]`
    pub fn matrix(&self, data: &[f64], rows: usize, cols: usize) -> Tensor<2> {
        debug_assert_eq!(data.len(), rows * cols);
        Tensor::from_data(
            TensorData::new(data.to_vec(), [rows, cols]),
            (&self.device, self.dtype),
        )
    }

    /// A vector from host data.
    ///
    /// # Shapes
    /// - `data`: `n` values → `[n]`
    pub fn vector(&self, data: &[f64]) -> Tensor<1> {
        Tensor::from_data(
            TensorData::new(data.to_vec(), [data.len()]),
            (&self.device, self.dtype),
        )
    }
}

/// Reads a tensor back to the host as f64 values (row-major).
pub fn to_host<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f64>> {
    tensor
        .into_data()
        .try_into_vec_as::<f64>()
        .map_err(|e| Error::Tensor(format!("{e:?}")))
}

/// Reads a one-element tensor back as an f64.
pub fn scalar(tensor: Tensor<1>) -> Result<f64> {
    to_host(tensor)?
        .first()
        .copied()
        .ok_or_else(|| Error::Tensor("expected a one-element tensor".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cpu_backend_has_a_name_and_a_device() {
        for backend in Backend::CPU {
            assert_eq!(Backend::from_name(backend.name()).ok(), Some(backend));
            let ctx = Ctx::new(backend.device().unwrap(), Precision::F64);
            let m = ctx.matrix(&[1.0, 2.0, 3.0, 4.0], 2, 2);
            assert_eq!(
                to_host(m.clone().matmul(m)).unwrap(),
                vec![7.0, 10.0, 15.0, 22.0]
            );
        }
    }

    #[test]
    fn unknown_backend_lists_the_valid_ones() {
        let err = Backend::from_name("tpu").unwrap_err().to_string();
        assert!(err.contains("flex, ndarray, wgpu"), "{err}");
        for backend in Backend::ALL {
            assert_eq!(Backend::from_name(backend.name()).ok(), Some(backend));
        }
    }

    #[test]
    fn precision_is_per_tensor_not_per_device() {
        let device = Backend::Flex.device().unwrap();
        let x = 1.0 + 1e-12;
        let hi = to_host(Ctx::new(device.clone(), Precision::F64).vector(&[x])).unwrap();
        let lo = to_host(Ctx::new(device, Precision::F32).vector(&[x])).unwrap();
        assert_eq!(hi[0], x);
        assert_eq!(lo[0], 1.0);
    }
}
