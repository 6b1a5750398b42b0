// RUN: msdd-opt %s --split-input-file --msdd-emit-entry-points --verify-diagnostics | FileCheck %s

// Each manifest function gets msdd_entry_<name>(void **) calling its C wrapper with the
// descriptors in order. The runtime enters only there, so a function whose one call is in
// its wrapper, and a wrapper whose one call is in its entry point, become internal and always
// inlined: no call passes every descriptor field as an argument any more.
// CHECK-LABEL: module
// CHECK: llvm.func internal @f(%{{.+}}: !llvm.ptr, %{{.+}}: i64) attributes {always_inline}
// CHECK: llvm.func internal @_mlir_ciface_f(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr) attributes {always_inline}
// CHECK: llvm.mlir.global external constant @msdd_manifest
// CHECK-LABEL: llvm.func @msdd_entry_f(%arg0: !llvm.ptr)
// CHECK: %[[S0:.+]] = llvm.getelementptr %arg0[0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[D0:.+]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S1:.+]] = llvm.getelementptr %arg0[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[D1:.+]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @_mlir_ciface_f(%[[D0]], %[[D1]])
// CHECK-NEXT: llvm.return
module attributes {msdd.manifest = "{\22format\22:\22msdd-artifact\22,\22functions\22:[{\22entry\22:\22msdd_entry_f\22,\22inputs\22:[{}],\22name\22:\22f\22,\22outputs\22:[{}]}],\22target\22:\22cpu\22,\22version\22:2}"} {
  llvm.func @f(%a: !llvm.ptr, %n: i64) {
    llvm.return
  }
  llvm.func @_mlir_ciface_f(%in: !llvm.ptr, %out: !llvm.ptr) {
    %c = llvm.mlir.constant(1 : i64) : i64
    llvm.call @f(%in, %c) : (!llvm.ptr, i64) -> ()
    llvm.return
  }
}

// -----

// decode is also called by reconstruct: it stays a function of its own, and so does the
// wrapper of an entry point that something else calls.
// CHECK-LABEL: module
// CHECK: llvm.func @decode(%{{.+}}: !llvm.ptr) {
// CHECK: llvm.func @_mlir_ciface_decode(%{{.+}}: !llvm.ptr) {
// CHECK: llvm.func internal @reconstruct(%{{.+}}: !llvm.ptr) attributes {always_inline}
// CHECK: llvm.func internal @_mlir_ciface_reconstruct(%{{.+}}: !llvm.ptr) attributes {always_inline}
// CHECK: llvm.func @other
// CHECK-LABEL: llvm.func @msdd_entry_decode
// CHECK-LABEL: llvm.func @msdd_entry_reconstruct
module attributes {msdd.manifest = "{\22functions\22:[{\22entry\22:\22msdd_entry_decode\22,\22inputs\22:[{}],\22name\22:\22decode\22,\22outputs\22:[]},{\22entry\22:\22msdd_entry_reconstruct\22,\22inputs\22:[{}],\22name\22:\22reconstruct\22,\22outputs\22:[]}]}"} {
  llvm.func @decode(%a: !llvm.ptr) {
    llvm.return
  }
  llvm.func @_mlir_ciface_decode(%a: !llvm.ptr) {
    llvm.call @decode(%a) : (!llvm.ptr) -> ()
    llvm.return
  }
  llvm.func @reconstruct(%a: !llvm.ptr) {
    llvm.call @decode(%a) : (!llvm.ptr) -> ()
    llvm.return
  }
  llvm.func @_mlir_ciface_reconstruct(%a: !llvm.ptr) {
    llvm.call @reconstruct(%a) : (!llvm.ptr) -> ()
    llvm.return
  }
  llvm.func @other(%a: !llvm.ptr) {
    llvm.call @_mlir_ciface_decode(%a) : (!llvm.ptr) -> ()
    llvm.return
  }
}

// -----

// expected-error @+1 {{no msdd.manifest: run msdd-record-entry-points before bufferization}}
module {
}

// -----

// expected-error @+1 {{malformed msdd.manifest}}
module attributes {msdd.manifest = "{\22functions\22:["} {
}

// -----

// expected-error @+1 {{no C-interface wrapper with 2 arguments for 'g'}}
module attributes {msdd.manifest = "{\22functions\22:[{\22entry\22:\22msdd_entry_g\22,\22inputs\22:[{}],\22name\22:\22g\22,\22outputs\22:[{}]}]}"} {
  llvm.func @_mlir_ciface_g(%a: !llvm.ptr) {
    llvm.return
  }
}
