# The *target* kernel: the sched_ext kernel the module, the scheduler and the
# vm tests run on. In 'vm' mode it is the kernel of the project's root
# filesystem (booted under qemu); in 'native' mode the running kernel.
if(NOT KAIROS_KERNEL_RELEASE)
  if(KAIROS_VM_MODE STREQUAL "native")
    execute_process(COMMAND uname -r OUTPUT_VARIABLE _rel
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  else()
    file(GLOB _images /boot/vmlinuz-*)
    list(SORT _images COMPARE NATURAL ORDER DESCENDING)
    list(GET _images 0 _img)
    string(REGEX REPLACE "^/boot/vmlinuz-" "" _rel "${_img}")
  endif()
  set(KAIROS_KERNEL_RELEASE "${_rel}" CACHE STRING "target kernel release")
endif()

set(KAIROS_KERNEL_BUILD /lib/modules/${KAIROS_KERNEL_RELEASE}/build
    CACHE PATH "kernel build tree (headers) of the target kernel")
if(NOT EXISTS ${KAIROS_KERNEL_BUILD}/Makefile)
  message(FATAL_ERROR "No kernel headers for ${KAIROS_KERNEL_RELEASE} at "
          "${KAIROS_KERNEL_BUILD}: install linux-headers-${KAIROS_KERNEL_RELEASE} "
          "(tools/dev setup does this in the project's root filesystem).")
endif()

# Where the target kernel's BTF comes from: the running kernel exposes it
# directly; otherwise it is extracted from the kernel image.
if(KAIROS_VM_MODE STREQUAL "native")
  set(_btf /sys/kernel/btf/vmlinux)
else()
  set(_btf /boot/vmlinuz-${KAIROS_KERNEL_RELEASE})
endif()
set(KAIROS_KERNEL_BTF_SOURCE ${_btf} CACHE FILEPATH
    "BTF source of the target kernel (raw BTF or a vmlinuz image)")
message(STATUS "Target kernel ${KAIROS_KERNEL_RELEASE} (mode ${KAIROS_VM_MODE})")
