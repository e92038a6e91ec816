//! Export macros. A policy crate names its type once:
//! `hooks_policy_sdk::export_validator!(DenyPrivileged);`.
//!
//! For wasm32 they export the role's interface and embed the role's world in the
//! component type; natively they only check that the type implements the role, so the
//! same crate builds and tests on the host without cfg noise.

/// Exports a [`Validator`](crate::Validator) as this component's `validate`.
#[macro_export]
macro_rules! export_validator {
    ($ty:ty) => {
        $crate::__export_role!(
            $ty,
            $crate::Validator,
            __export_validator_impl,
            $crate::wasm::validator
        );
    };
}

/// Exports a [`Mutator`](crate::Mutator) as this component's `mutate`.
#[macro_export]
macro_rules! export_mutator {
    ($ty:ty) => {
        $crate::__export_role!(
            $ty,
            $crate::Mutator,
            __export_mutator_impl,
            $crate::wasm::mutator
        );
    };
}

/// Exports an [`Orderer`](crate::Orderer) as this component's `order`.
#[macro_export]
macro_rules! export_orderer {
    ($ty:ty) => {
        $crate::__export_role!(
            $ty,
            $crate::Orderer,
            __export_orderer_impl,
            $crate::wasm::orderer
        );
    };
}

/// Exports a [`Scheduler`](crate::Scheduler) as this component's `order` of contract
/// 0.2.0, which may answer waves. A component has one `order`: this or
/// [`export_orderer!`], not both.
#[macro_export]
macro_rules! export_scheduler {
    ($ty:ty) => {
        $crate::__export_role!(
            $ty,
            $crate::Scheduler,
            __export_scheduler_impl,
            $crate::wasm::scheduler
        );
    };
}

/// Exports several roles from one component, each at most once:
/// `export_policy!(validator: Guard, mutator: Defaults, orderer: Order);`
#[macro_export]
macro_rules! export_policy {
    ($($role:ident : $ty:ty),+ $(,)?) => {
        $( $crate::export_policy!(@role $role $ty); )+
    };
    (@role validator $ty:ty) => { $crate::export_validator!($ty); };
    (@role mutator $ty:ty) => { $crate::export_mutator!($ty); };
    (@role orderer $ty:ty) => { $crate::export_orderer!($ty); };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_role {
    ($ty:ty, $role:path, $world_macro:ident, $($bindings:tt)*) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            type __HooksPolicyAdapter = $crate::wasm::Adapter<$ty>;
            $crate::$world_macro!(__HooksPolicyAdapter with_types_in $($bindings)*);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            fn __hooks_policy_implements<T: $role>() {}
            let _ = __hooks_policy_implements::<$ty>;
        };
    };
}
