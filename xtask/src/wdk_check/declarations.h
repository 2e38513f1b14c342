/*
 * What mingw-w64's DDK headers (Debian's mingw-w64-x86-64-dev) lack of the WDK
 * declarations that ringfence's `wdk` backend and wdk-alloc call. Every line says
 * which WDK header declares it; signatures as Microsoft Learn documents them.
 * `cargo xtask wdk-check` force-includes this file into wdk-sys' bindgen runs.
 */
#include <ntifs.h>

typedef ULONG64 POOL_FLAGS;                                                       /* wdm.h */
NTKERNELAPI PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag); /* wdm.h */
NTKERNELAPI VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);           /* wdm.h */
NTKERNELAPI ULONG64 KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp);          /* wdm.h */
NTKERNELAPI VOID ExAcquirePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags); /* wdm.h */
NTKERNELAPI VOID ExReleasePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags); /* wdm.h */
NTKERNELAPI VOID ExAcquirePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags);    /* wdm.h */
NTKERNELAPI VOID ExReleasePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags);    /* wdm.h */
NTKERNELAPI ULONGLONG PsGetProcessStartKey(PEPROCESS Process);                   /* ntddk.h */
NTKERNELAPI NTSTATUS PsGetProcessExitStatus(PEPROCESS Process);                  /* ntddk.h */
typedef enum _PSCREATEPROCESSNOTIFYTYPE { PsCreateProcessNotifySubsystems = 0 } PSCREATEPROCESSNOTIFYTYPE; /* ntddk.h */
NTKERNELAPI NTSTATUS PsSetCreateProcessNotifyRoutineEx2(PSCREATEPROCESSNOTIFYTYPE NotifyType, PVOID NotifyInformation, BOOLEAN Remove); /* ntddk.h */
#define PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE 0x1                              /* ntddk.h */
NTKERNELAPI NTSTATUS PsSetLoadImageNotifyRoutineEx(PLOAD_IMAGE_NOTIFY_ROUTINE NotifyRoutine, ULONG_PTR Flags); /* ntddk.h */
