/* SPDX-License-Identifier: MIT */
/* netmesh.h - everything a daemon author needs, in one include. */
#ifndef NETMESH_H
#define NETMESH_H

#include "nm_error.h"
#include "nm_identity.h"
#include "nm_causal.h"
#include "nm_horizon.h"
#include "nm_capability.h"
#include "nm_snapshot.h"
#include "nm_daemon.h"
#include "nm_runtime.h"
#include "nm_builtin.h"
#include "nm_meshos.h"
#include "nm_node.h"

#endif /* NETMESH_H */
