//! Panics inside runs: caught, their message kept for the run's record, and not printed over
//! the progress bars. Panics anywhere else print as usual.

use std::any::Any;
use std::cell::RefCell;
use std::sync::{Arc, Mutex, Once};

/// Where the first panic message of a run's threads is kept.
pub type PanicSlot = Arc<Mutex<Option<String>>>;

thread_local! {
    static SLOT: RefCell<Option<PanicSlot>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once) the hook that keeps run panics quiet.
pub fn install_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let kept = SLOT.with(|slot| {
                let slot = slot.borrow();
                let Some(slot) = slot.as_ref() else {
                    return false;
                };
                let mut message = payload_message(info.payload());
                if let Some(loc) = info.location() {
                    message = format!("{message} (at {}:{})", loc.file(), loc.line());
                }
                let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
                guard.get_or_insert(message);
                true
            });
            if !kept {
                default(info);
            }
        }));
    });
}

/// Panics on this thread go to `slot` from now on.
pub fn capture_on_this_thread(slot: PanicSlot) {
    SLOT.with(|s| *s.borrow_mut() = Some(slot));
}

/// The text of a panic payload.
pub fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_panic_keeps_its_message_and_location() {
        install_hook();
        let slot = PanicSlot::default();
        let s = slot.clone();
        let result = std::thread::spawn(move || {
            capture_on_this_thread(s);
            std::panic::catch_unwind(|| panic!("index {} out of range", 7))
        })
        .join()
        .unwrap();
        let payload = result.unwrap_err();
        assert_eq!(payload_message(payload.as_ref()), "index 7 out of range");
        let kept = slot.lock().unwrap().clone().unwrap();
        assert!(kept.starts_with("index 7 out of range (at "), "{kept}");
        assert!(kept.contains("panic.rs"), "{kept}");
    }
}
