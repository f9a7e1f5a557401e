#include "modules/nvme/driver/status.h"

#include <cerrno>

#include "absl/strings/str_format.h"
#include "modules/nvme/driver/spec.h"

namespace bdevkit::nvme {

int StatusToErrno(uint8_t type, uint8_t code) {
  if (type == sct::kGeneric) {
    switch (code) {
      case generic_sc::kSuccess:
        return 0;
      case generic_sc::kInvalidOpcode:
        return -EOPNOTSUPP;
      case generic_sc::kInvalidField:
      case generic_sc::kCidConflict:
      case generic_sc::kInvalidNamespace:
      case generic_sc::kSequenceError:
      case generic_sc::kInvalidSglDescriptor:
      case generic_sc::kInvalidPrpOffset:
        return -EINVAL;
      case generic_sc::kAbortRequested:
      case generic_sc::kAbortSqDeleted:
      case generic_sc::kAbortFusedFail:
      case generic_sc::kAbortFusedMissing:
      case generic_sc::kPowerLoss:
        return -ECANCELED;
      case generic_sc::kNamespaceWriteProtected:
        return -EROFS;
      case generic_sc::kCommandInterrupted:
      case generic_sc::kNamespaceNotReady:
        return -EAGAIN;
      case generic_sc::kLbaOutOfRange:
        return -ERANGE;
      case generic_sc::kCapacityExceeded:
        return -ENOSPC;
      case generic_sc::kReservationConflict:
        return -EBUSY;
      default:
        return -EIO;
    }
  }
  if (type == sct::kMedia) {
    switch (code) {
      case media_sc::kWriteFault:
      case media_sc::kUnrecoveredReadError:
        return -EILSEQ;
      case media_sc::kAccessDenied:
        return -EACCES;
      default:
        return -EIO;
    }
  }
  return -EIO;
}

namespace {

const char* GenericName(uint8_t code) {
  switch (code) {
    case generic_sc::kSuccess:
      return "Success";
    case generic_sc::kInvalidOpcode:
      return "Invalid Command Opcode";
    case generic_sc::kInvalidField:
      return "Invalid Field in Command";
    case generic_sc::kCidConflict:
      return "Command ID Conflict";
    case generic_sc::kDataTransferError:
      return "Data Transfer Error";
    case generic_sc::kPowerLoss:
      return "Aborted due to Power Loss";
    case generic_sc::kInternalError:
      return "Internal Error";
    case generic_sc::kAbortRequested:
      return "Command Abort Requested";
    case generic_sc::kAbortSqDeleted:
      return "Aborted due to SQ Deletion";
    case generic_sc::kAbortFusedFail:
      return "Aborted due to Failed Fused Command";
    case generic_sc::kAbortFusedMissing:
      return "Aborted due to Missing Fused Command";
    case generic_sc::kInvalidNamespace:
      return "Invalid Namespace or Format";
    case generic_sc::kSequenceError:
      return "Command Sequence Error";
    case generic_sc::kInvalidSglDescriptor:
      return "Invalid SGL Descriptor";
    case generic_sc::kInvalidPrpOffset:
      return "Invalid PRP Offset";
    case generic_sc::kNamespaceWriteProtected:
      return "Namespace is Write Protected";
    case generic_sc::kCommandInterrupted:
      return "Command Interrupted";
    case generic_sc::kLbaOutOfRange:
      return "LBA Out of Range";
    case generic_sc::kCapacityExceeded:
      return "Capacity Exceeded";
    case generic_sc::kNamespaceNotReady:
      return "Namespace Not Ready";
    case generic_sc::kReservationConflict:
      return "Reservation Conflict";
    default:
      return nullptr;
  }
}

const char* MediaName(uint8_t code) {
  switch (code) {
    case media_sc::kWriteFault:
      return "Write Fault";
    case media_sc::kUnrecoveredReadError:
      return "Unrecovered Read Error";
    case media_sc::kAccessDenied:
      return "Access Denied";
    case media_sc::kDeallocatedOrUnwrittenBlock:
      return "Deallocated or Unwritten Logical Block";
    default:
      return nullptr;
  }
}

}  // namespace

std::string StatusName(uint8_t type, uint8_t code) {
  const char* type_name = "Unknown";
  const char* name = nullptr;
  switch (type) {
    case sct::kGeneric:
      type_name = "Generic";
      name = GenericName(code);
      break;
    case sct::kCommandSpecific:
      type_name = "Command Specific";
      break;
    case sct::kMedia:
      type_name = "Media";
      name = MediaName(code);
      break;
    case sct::kPath:
      type_name = "Path";
      break;
    case sct::kVendor:
      type_name = "Vendor Specific";
      break;
    default:
      break;
  }
  return absl::StrFormat("%s/%s (sct 0x%x, sc 0x%02x)", type_name, name ? name : "status", type,
                         code);
}

}  // namespace bdevkit::nvme
