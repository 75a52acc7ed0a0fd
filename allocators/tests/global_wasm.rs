//! The default heap over the module's own memory ([`bareheap::WasmGrower`], `memory.grow`) as
//! this test binary's `#[global_allocator]`, on WebAssembly: std collections and strings run on
//! it under Node.js (`make test-wasm`, which builds it for `wasm32-wasip1`). On other targets
//! it has nothing to test and says so.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use bareheap::{Heap, LockedHeap, WasmGrower};

    #[global_allocator]
    pub static HEAP: LockedHeap<WasmGrower> = LockedHeap::new(Heap::new(WasmGrower::new()));
}

#[cfg(target_arch = "wasm32")]
fn main() {
    use bareheap::RawAllocator;

    bareheap_conformance::std_workload(20, 2000, 0);
    let words: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    assert_eq!(words.concat().len(), 38_890);
    let probe = vec![3u32; 100_000];
    assert!(wasm::HEAP.lock().contains(probe.as_ptr().cast()));
    wasm::HEAP.inspect(|heap| {
        heap.free_list().validate().expect("a consistent heap");
        assert_eq!(
            heap.free_list().regions().count(),
            1,
            "grown pages join one region"
        );
    });
    println!("std code ran on the default heap over memory.grow: ok");
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    println!("global_wasm: runs on WebAssembly only (make test-wasm)");
}
