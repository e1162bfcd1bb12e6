// The expectation table, written by hand (vault-2-plan.md §1.2). The team (insider_support.cpp):
//   a        admin of *                     rma      admin of prod, removed (acted before)
//   auditor  auditor, prod                  ci       rotator, prod (standing reader of prod/*)
//   req      requester, prod (request r1    cust     approver, prod; custodian of prod/db
//            on prod/db, pending)           appr     approver, prod; custodian of prod/api
//   owner    requester, prod; owns prod/db  other    requester, prod; owns prod/api
//   stg      admin of staging only          outsider a valid identity never added
// Each row: the signers allowed; every other signer is refused. Empty rows are attacks nobody may
// perform; rows with signers are the control cases keeping the matrix honest.
#include "expected.hpp"

#include <map>
#include <stdexcept>

namespace insider {

namespace {

struct Row
{
  std::string variant;
  std::set<std::string> allowed;
};

const std::vector<Row>& table()
{
  static const std::vector<Row> rows{
    // roster and policy (§5.1)
    {"member-add admin of prod (a key the signer controls)", {"a"}},
    {"member-add admin of *", {"a"}},
    {"member-set self to admin of *", {"a"}},                  // a: no change, allowed
    {"member-set req to admin of prod", {"a"}},
    {"member-remove the last admin of *", {}},
    {"member-remove req", {"a"}},
    {"policy-set prod max_ttl 1 year", {"a"}},
    {"policy-set a notify hook", {"a"}},
    {"connector-add prod command connector", {"a", "ci"}},
    {"connector-remove prod-cmd", {"a", "ci"}},
    // secrets (§5.2)
    {"secret-add with a cmd= generator, owned by the signer", {"a"}},
    {"secret-add plain, owned by the signer", {"ci", "req", "cust", "appr", "owner", "other", "a"}},
    {"secret-set prod/db owner to the signer", {"owner", "a"}},
    {"secret-set prod/db generator to cmd=", {"a"}},
    {"secret-set prod/db purpose", {"owner", "ci", "a"}},
    {"custodians-set prod/db to the signer, threshold 1", {}}, // only approvers may be custodians
    {"custodians-set prod/db to appr", {"owner", "a"}},
    {"share prod/db to the signer", {}},                       // the owner already holds it
    {"share prod/db to the outsider", {}},
    {"share prod/db to appr", {"owner"}},
    {"unshare prod/db from ci (not shared)", {}},
    {"retire prod/db", {"owner", "a"}},
    // rotation (§5.3)
    {"rotate-start prod/db new generation", {"owner", "ci"}},
    {"rotate-start prod/db with an extra rk line for appr", {}},
    {"compromise prod/db current version", {"owner", "ci", "a"}},
    // escrow (§5.4)
    {"request prod/db", {"req", "other"}},
    {"request prod/db ttl over the cap", {}},
    {"request prod/db reusing req's id r1", {}},
    {"approve r1 of req", {"cust"}},
    {"approve r1 with a wrong dk_commit", {}},
    {"approve r1 naming another requester", {}},
    {"deny r1", {"cust", "owner", "req", "a"}},
    {"grant-used r1 (never approved)", {}},
    // later states, prepared by honest operations before the forgery
    {"approve r1 after owner denied it", {}},
    {"grant-used r1 after cust approved it", {"req"}},
    {"rotate-start carrying r1's grant, never approved", {}},
    {"rotate-start carrying r1's grant, approved by cust", {"owner", "ci"}},
    {"rotate-start reusing generation 1 (clean)", {"owner", "ci"}},
    {"rotate-start reusing generation 1 after an unshare (tainted)", {}},
    {"rotate-finish of owner's rotation in flight", {"owner", "ci"}},
    {"rotate-fail (cancelled) of owner's rotation in flight", {"owner", "ci"}},
    {"unshare prod/db from appr (shared by owner)", {"owner"}},
    {"journal-loss of an absent event", {"a"}},
    // merges (vault-2-merge.md §5): a resolve is honoured only at a merge point it settles
    {"resolve outside a merge point", {}},
  };
  return rows;
}

} // namespace

const std::vector<std::string>& variants()
{
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Row& row : table()) {
      out.push_back(row.variant);
    }
    return out;
  }();
  return names;
}

bool expected_allowed(const std::string& variant, const std::string& signer)
{
  for (const Row& row : table()) {
    if (row.variant == variant) {
      return row.allowed.count(signer) != 0;
    }
  }
  throw std::logic_error("no expectation for " + variant);
}

escrow::history::FindingKind expected_finding(const std::string& signer)
{
  using escrow::history::FindingKind;
  if (signer == "outsider") {
    return FindingKind::unknown_author;
  }
  if (signer == "rma") {
    return FindingKind::removed_author;
  }
  return FindingKind::unauthorised_operation;
}

} // namespace insider
