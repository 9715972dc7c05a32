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
    /// The ndarray CPU backend (cargo feature `ndarray`, off by default).
    Ndarray,
    /// The wgpu GPU backend (cargo feature `wgpu`, off by default): Vulkan, Metal or DX12, or
    /// Mesa's lavapipe software Vulkan driver on a machine without a GPU. Other graphics
    /// APIs (OpenGL) are refused when the device is acquired.
    Wgpu,
}

impl Backend {
    /// Every backend the library knows, compiled in or not.
    pub const ALL: [Backend; 3] = [Backend::Flex, Backend::Ndarray, Backend::Wgpu];

    /// The CPU backends, compiled in or not (flex always is).
    pub const CPU: [Backend; 2] = [Backend::Flex, Backend::Ndarray];

    /// The cargo feature that compiles the backend in (`None`: always there).
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Backend::Flex => None,
            Backend::Ndarray => Some("ndarray"),
            Backend::Wgpu => Some("wgpu"),
        }
    }

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
            Backend::Flex => true,
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The backends this build includes.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The CPU backends this build includes.
    pub fn compiled_cpu() -> Vec<Backend> {
        Self::CPU.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Why a backend this build leaves out cannot be used, and what to do.
    pub fn not_compiled_reason(self) -> String {
        format!(
            "{} is not compiled into this build (rebuild with `--features {}`; available: {})",
            self.name(),
            self.feature().unwrap_or(self.name()),
            names(&Backend::compiled())
        )
    }

    /// Whether runs on this backend use a GPU (and must be scheduled as such).
    pub fn is_gpu(self) -> bool {
        self == Backend::Wgpu
    }

    /// The plain (non-autodiff) device of this backend, or why it cannot be had (not compiled
    /// in, or no adapter on this machine). The wgpu device is acquired once per process.
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            Backend::Ndarray => ndarray_device(),
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
        .get_or_init(acquire_wgpu)
        .clone()
        .map_err(|reason| Error::BackendUnavailable {
            name: "wgpu".into(),
            reason,
        })
}

/// Acquires the wgpu device and refuses a graphics API that is not a compute API: on a
/// machine without a Vulkan driver wgpu falls back to OpenGL (Mesa's llvmpipe), where burn's
/// kernels run orders of magnitude slower or stall, so such a device is an error up front
/// rather than a run that never ends.
#[cfg(feature = "wgpu")]
fn acquire_wgpu() -> std::result::Result<Device, String> {
    let fix = "install a Vulkan driver (e.g. Debian's mesa-vulkan-drivers, a CPU fallback) or \
               use flex or ndarray";
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| format!("no wgpu adapter: {e} ({fix})"))?;
    let info = setup.adapter.get_info();
    usable_graphics_api(setup.backend.to_str(), &info.name)
        .map_err(|why| format!("{why} ({fix})"))?;
    Ok(device)
}

/// Whether wgpu's graphics API `api` (as wgpu names it) is one burn's kernels run well on:
/// Vulkan, Metal or DX12. `adapter` names the device in the refusal.
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
fn usable_graphics_api(api: &str, adapter: &str) -> std::result::Result<(), String> {
    match api {
        "vulkan" | "metal" | "dx12" => Ok(()),
        other => Err(format!(
            "the only wgpu adapter is {adapter:?} through {other}, which is not Vulkan, Metal \
             or DX12: burn's kernels would run orders of magnitude slower there or stall"
        )),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(not_compiled(Backend::Wgpu))
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // burn 0.22 deprecates ndarray, which users still name.
fn ndarray_device() -> Result<Device> {
    Ok(Device::ndarray())
}

#[cfg(not(feature = "ndarray"))]
fn ndarray_device() -> Result<Device> {
    Err(not_compiled(Backend::Ndarray))
}

/// The error for a backend this build leaves out.
#[cfg_attr(all(feature = "ndarray", feature = "wgpu"), allow(dead_code))]
fn not_compiled(backend: Backend) -> Error {
    Error::BackendUnavailable {
        name: backend.name().into(),
        reason: backend.not_compiled_reason(),
    }
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
        for backend in Backend::compiled_cpu() {
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
    fn only_compute_graphics_apis_are_accepted() {
        for api in ["vulkan", "metal", "dx12"] {
            assert_eq!(usable_graphics_api(api, "x"), Ok(()));
        }
        let err = usable_graphics_api("gl", "llvmpipe (LLVM 19.1.7, 256 bits)").unwrap_err();
        assert_eq!(
            err,
            "the only wgpu adapter is \"llvmpipe (LLVM 19.1.7, 256 bits)\" through gl, which \
             is not Vulkan, Metal or DX12: burn's kernels would run orders of magnitude slower \
             there or stall"
        );
        assert!(usable_graphics_api("webgpu", "browser").is_err());
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
