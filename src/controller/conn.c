/* SPDX-License-Identifier: MIT */
/*
 * Connections: one queue pair each.  Received command capsules enter here
 * (conn_receive), get a context from the connection's pool, and go to the
 * Fabrics, admin or I/O handlers.  Connect (NVMe-oF 1.1 §3.3) binds the
 * connection to a controller: a new one for an admin queue (dynamic
 * controller model), an existing one by CNTLID for an I/O queue.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/conn.h"
#include "util/clock.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/testpoint.h"

/* ------------------------------------------------------------------ */
/* Connect (NVMe-oF 1.1 §3.3)                                          */
/* ------------------------------------------------------------------ */

static void connect_refuse_host(struct nvmf_cmd *cmd)
{
	cmd_complete(cmd, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST),
		     offsetof(struct nvmf_connect_data, hostnqn) | NVMF_CONNECT_IPO_DATA, 0);
}

static void connect_invalid(struct nvmf_cmd *cmd, uint32_t offset, bool in_data)
{
	cmd_complete(cmd, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAMETERS),
		     offset | (in_data ? NVMF_CONNECT_IPO_DATA : 0), 0);
}

/* NUL-terminated within the field, at most NVMF_NQN_MAX_LEN; empty if allowed. */
static bool nqn_field_ok(const char *field, bool empty_ok)
{
	const char *nul = memchr(field, '\0', NVMF_NQN_FIELD_SIZE);

	return nul != NULL && (nul != field || empty_ok) && (size_t)(nul - field) <= NVMF_NQN_MAX_LEN;
}

#define NQN_SHOWN 96                 /* characters of a refused NQN a log line shows */
#define NQN_ESCAPED_SIZE (NQN_SHOWN * 4 + 8)

/* An NQN field from the wire as a log line may show it: quoted, bytes
 * outside printable ASCII escaped, cut at NQN_SHOWN characters. */
static const char *nqn_escape(const char *field, char out[NQN_ESCAPED_SIZE])
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; i < NVMF_NQN_FIELD_SIZE && field[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)field[i];

		if (i == NQN_SHOWN) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static void connect_admin(struct nvmf_cmd *cmd, struct nvmf_subsys *subsys,
			  const struct nvmf_connect_data *data, const struct ctrl_auth *creds)
{
	const struct nvmf_connect_cmd *c = (const struct nvmf_connect_cmd *)cmd_sqe(cmd);
	struct nvmf_conn *conn = cmd->conn;
	struct nvmf_target *t = conn->target;
	struct nvmf_qpair_info info;
	struct nvmf_ctrl *ctrl;
	uint16_t status;
	int authreq;

	if (data->cntlid != NVMF_CNTLID_DYNAMIC) {
		NVMF_WARN("nvmfd: %s: admin Connect with CNTLID %#x; only the dynamic model (FFFFh) is served",
			  conn->peer, data->cntlid);
		connect_invalid(cmd, offsetof(struct nvmf_connect_data, cntlid), true);
		return;
	}
	if (c->sqsize == 0 || c->sqsize >= CTRL_ADMIN_QSIZE) {
		NVMF_WARN("nvmfd: %s: admin queue SQSIZE %u out of range 1..%u", conn->peer,
			  c->sqsize, CTRL_ADMIN_QSIZE - 1);
		connect_invalid(cmd, offsetof(struct nvmf_connect_cmd, sqsize), false);
		return;
	}
	/* Before the controller exists: nothing to undo if this fails. */
	authreq = auth_queue_setup(conn, creds, data->hostnqn, subsys->nqn, c->kato);
	if (authreq < 0) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR), 0, 0);
		return;
	}
	ctrl = ctrl_create(t, subsys, conn, data, c->kato, &status);
	if (ctrl == NULL) {
		cmd_complete(cmd, status, 0, 0);
		return;
	}
	ctrl->auth = *creds;
	nvmf_qpair_set_connected(nvmf_capsule_qpair(cmd->nc), 0, (uint16_t)(c->sqsize + 1),
				 (c->cattr & NVMF_CONNECT_ATTR_DISABLE_SQ_FC) == 0);
	conn->qid = 0;
	conn->ctrl = ctrl;
	atomic_store(&conn->connected, true);
	if (data->hostnqn[0] == '\0') {
		const uint8_t *u = data->hostid;
		char hostid[40];

		snprintf(hostid, sizeof(hostid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
			 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
			 u[13], u[14], u[15]);
		NVMF_WARN("nvmfd: %s: controller %u for a host with an empty host NQN (host ID %s) "
			  "on %s: accepted, the subsystem allows any host", conn->peer,
			  ctrl->cntlid, hostid, subsys->nqn);
	}
	nvmf_qpair_get_info(nvmf_capsule_qpair(cmd->nc), &info);
	NVMF_INFO("nvmfd: %s: %s controller %u for %s on %s (KATO %u ms, sqsize %u%s%s%s)",
		  conn->peer, subsys->discovery ? "discovery" : "NVM", ctrl->cntlid, data->hostnqn,
		  subsys->nqn, c->kato, c->sqsize + 1,
		  (c->cattr & NVMF_CONNECT_ATTR_DISABLE_SQ_FC) ? ", SQ flow control off" : "",
		  info.tls_cipher != NULL ? ", TLS" : "", authreq != 0 ? ", DH-HMAC-CHAP required" : "");
	cmd_complete(cmd, 0, ctrl->cntlid | (uint32_t)authreq, 0);
}

static void connect_io(struct nvmf_cmd *cmd, struct nvmf_subsys *subsys,
		       const struct nvmf_connect_data *data)
{
	const struct nvmf_connect_cmd *c = (const struct nvmf_connect_cmd *)cmd_sqe(cmd);
	struct nvmf_conn *conn = cmd->conn;
	struct nvmf_target *t = conn->target;
	struct nvmf_ctrl *ctrl;
	uint32_t ipo = 0;
	bool in_data = false;
	uint16_t status = 0;
	int authreq;

	nvmf_mutex_lock(&t->lock);
	for (ctrl = subsys->ctrls; ctrl != NULL; ctrl = ctrl->next)
		if (ctrl->cntlid == data->cntlid)
			break;
	if (subsys->discovery) {
		ipo = offsetof(struct nvmf_connect_cmd, qid);
	} else if (ctrl == NULL || atomic_load(&ctrl->dead) ||
		   strcmp(ctrl->hostnqn, data->hostnqn) != 0 ||
		   memcmp(ctrl->hostid, data->hostid, sizeof(ctrl->hostid)) != 0) {
		NVMF_WARN("nvmfd: %s: I/O queue Connect for unknown controller %u of %s",
			  conn->peer, data->cntlid, subsys->nqn);
		ipo = offsetof(struct nvmf_connect_data, cntlid);
		in_data = true;
	} else if (!ctrl_ready(ctrl)) {
		status = NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR);
	} else if (c->qid > ctrl_granted_io_queues(ctrl)) {
		NVMF_WARN("nvmfd: %s: QID %u beyond the %u I/O queues of controller %u", conn->peer,
			  c->qid, ctrl_granted_io_queues(ctrl), ctrl->cntlid);
		ipo = offsetof(struct nvmf_connect_cmd, qid);
	} else if (c->sqsize == 0 || c->sqsize >= ctrl->max_qsize) {
		NVMF_WARN("nvmfd: %s: I/O queue SQSIZE %u out of range 1..%u", conn->peer,
			  c->sqsize, ctrl->max_qsize - 1);
		ipo = offsetof(struct nvmf_connect_cmd, sqsize);
	} else if (ctrl->io[c->qid] != NULL) {
		/* The host must delete a queue before reusing its QID. */
		NVMF_WARN("nvmfd: %s: QID %u of controller %u is already connected", conn->peer,
			  c->qid, ctrl->cntlid);
		ipo = offsetof(struct nvmf_connect_cmd, qid);
	} else {
		ctrl->io[c->qid] = conn;
		ctrl->nconns++;
		conn->ctrl = ctrl;
		conn->qid = c->qid;
	}
	nvmf_mutex_unlock(&t->lock);
	if (status != 0) {
		cmd_complete(cmd, status, 0, 0);
		return;
	}
	if (ipo != 0) {
		connect_invalid(cmd, ipo, in_data);
		return;
	}
	/* Every queue authenticates on its own (TP 8006); the credentials
	 * are the association's, fixed at its admin Connect. */
	authreq = auth_queue_setup(conn, &ctrl->auth, data->hostnqn, subsys->nqn,
				   atomic_load(&ctrl->kato_ms));
	if (authreq < 0) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INTERNAL_DEVICE_ERROR), 0, 0);
		conn_mark_closing(conn);
		return;
	}
	nvmf_qpair_set_connected(nvmf_capsule_qpair(cmd->nc), c->qid, (uint16_t)(c->sqsize + 1),
				 (c->cattr & NVMF_CONNECT_ATTR_DISABLE_SQ_FC) == 0);
	atomic_store(&conn->connected, true);
	ctrl_touch(ctrl);
	NVMF_DEBUG("nvmfd: %s: I/O queue %u of controller %u (sqsize %u)", conn->peer, c->qid,
		   ctrl->cntlid, c->sqsize + 1);
	cmd_complete(cmd, 0, ctrl->cntlid | (uint32_t)authreq, 0);
}

static void connect_data_received(struct nvmf_cmd *cmd)
{
	const struct nvmf_connect_cmd *c = (const struct nvmf_connect_cmd *)cmd_sqe(cmd);
	const struct nvmf_connect_data *data = (const struct nvmf_connect_data *)cmd->buf;
	struct nvmf_conn *conn = cmd->conn;
	struct nvmf_target *t = conn->target;
	struct nvmf_subsys *subsys = NULL;
	struct nvmf_port *port;
	struct ctrl_auth creds;
	bool allowed = false;
	char shown[NQN_ESCAPED_SIZE], shown_sub[NQN_ESCAPED_SIZE];
	struct nvmf_qpair_info info;

	/* The data is in; the rest completes the Connect on this thread. */
	conn->connecting = false;
	if (!nqn_field_ok(data->subnqn, false)) {
		NVMF_WARN("nvmfd: %s: Connect with a malformed subsystem NQN %s", conn->peer,
			  nqn_escape(data->subnqn, shown));
		connect_invalid(cmd, offsetof(struct nvmf_connect_data, subnqn), true);
		return;
	}
	/* An empty host NQN: what SPDK's perf sends without a DMI product UUID;
	 * it can match no allowed-hosts entry and no secret (checked below). */
	if (!nqn_field_ok(data->hostnqn, true)) {
		NVMF_WARN("nvmfd: %s: Connect with a malformed host NQN %s", conn->peer,
			  nqn_escape(data->hostnqn, shown));
		connect_invalid(cmd, offsetof(struct nvmf_connect_data, hostnqn), true);
		return;
	}
	/* The TLS PSK identity names host and subsystem (TP 8011): the
	 * Connect must be for those, or a key would open other doors. */
	nvmf_qpair_get_info(nvmf_capsule_qpair(cmd->nc), &info);
	if (info.tls_cipher != NULL && strcmp(data->hostnqn, info.tls_hostnqn) != 0) {
		NVMF_WARN("nvmfd: %s: Connect as host %s, but the TLS PSK identity is host %s: refused",
			  conn->peer, nqn_escape(data->hostnqn, shown), info.tls_hostnqn);
		connect_refuse_host(cmd);
		return;
	}
	if (info.tls_cipher != NULL && strcmp(data->subnqn, info.tls_subnqn) != 0) {
		NVMF_WARN("nvmfd: %s: Connect to %s, but the TLS PSK identity is for %s: refused",
			  conn->peer, nqn_escape(data->subnqn, shown_sub), info.tls_subnqn);
		connect_invalid(cmd, offsetof(struct nvmf_connect_data, subnqn), true);
		return;
	}
	memset(&creds, 0, sizeof(creds));
	nvmf_mutex_lock(&t->lock);
	if (strcmp(data->subnqn, NVMF_DISCOVERY_NQN) == 0) {
		subsys = t->discovery;
		allowed = true;
	} else {
		port = target_find_port(t, conn->portid);
		subsys = target_find_subsys(t, data->subnqn);
		/* A subsystem is reachable only through the ports it is linked to. */
		if (subsys != NULL && (port == NULL || !port_has_subsys(port, subsys->nqn)))
			subsys = NULL;
		if (subsys != NULL)
			allowed = subsys_host_allowed(subsys, data->hostnqn);
	}
	/* Held while connecting: a reload may remove the subsystem meanwhile. */
	if (subsys != NULL) {
		subsys->refs++;
		auth_ctrl_creds(t, subsys, data->hostnqn, &creds);
	}
	nvmf_mutex_unlock(&t->lock);
	nqn_escape(data->hostnqn, shown);
	nqn_escape(data->subnqn, shown_sub);
	if (subsys == NULL) {
		NVMF_WARN("nvmfd: %s: Connect to unknown subsystem %s (host %s)", conn->peer,
			  shown_sub, shown);
		connect_invalid(cmd, offsetof(struct nvmf_connect_data, subnqn), true);
		return;
	}
	if (!allowed) {
		NVMF_WARN("nvmfd: %s: host %s is not allowed on %s%s", conn->peer, shown, shown_sub,
			  data->hostnqn[0] == '\0' ? " (an empty host NQN matches no allowed host)"
						    : "");
		connect_refuse_host(cmd);
	} else if (data->hostnqn[0] == '\0' && creds.required) {
		NVMF_WARN("nvmfd: %s: host %s on %s: refused, a host with an empty host NQN cannot "
			  "authenticate (DH-HMAC-CHAP is required)", conn->peer, shown, shown_sub);
		connect_refuse_host(cmd);
	} else if (c->qid == 0) {
		connect_admin(cmd, subsys, data, &creds);
	} else {
		connect_io(cmd, subsys, data);
	}
	auth_creds_clear(&creds);
	subsys_put(subsys);
}

static void handle_connect(struct nvmf_cmd *cmd)
{
	const struct nvmf_connect_cmd *c = (const struct nvmf_connect_cmd *)cmd_sqe(cmd);
	uint16_t st;

	/* One Connect per queue, even while the first one's data is arriving. */
	if (cmd->conn->connecting || atomic_load(&cmd->conn->connected)) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	if (c->recfmt != 0) {
		cmd_complete(cmd,
			     NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC, NVME_SC_CONNECT_INCOMPATIBLE_FORMAT),
			     0, 0);
		return;
	}
	st = cmd_check_data(cmd, sizeof(struct nvmf_connect_data), false);
	if (st != 0) {
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	cmd->conn->connecting = true;
	cmd_receive_data(cmd, sizeof(struct nvmf_connect_data), connect_data_received);
}

/* ------------------------------------------------------------------ */
/* Other Fabrics commands                                              */
/* ------------------------------------------------------------------ */

static void handle_property_get(struct nvmf_cmd *cmd)
{
	const struct nvmf_property_get_cmd *c = (const struct nvmf_property_get_cmd *)cmd_sqe(cmd);
	uint64_t value = 0;
	uint16_t st;

	st = ctrl_property_get(cmd->conn->ctrl, c->ofst, (c->attrib & 7) == NVMF_PROP_SIZE_8,
			       &value);
	cmd_complete(cmd, st, (uint32_t)value, (uint32_t)(value >> 32));
}

static void handle_fabrics(struct nvmf_cmd *cmd)
{
	const struct nvmf_fabrics_cmd *c = (const struct nvmf_fabrics_cmd *)cmd_sqe(cmd);
	struct nvmf_conn *conn = cmd->conn;

	if (c->fctype == NVMF_FCTYPE_CONNECT) {
		handle_connect(cmd);
		return;
	}
	if (!atomic_load(&conn->connected)) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	if (c->fctype == NVMF_FCTYPE_AUTH_SEND) {
		auth_send(cmd);
		return;
	}
	if (c->fctype == NVMF_FCTYPE_AUTH_RECV) {
		auth_receive(cmd);
		return;
	}
	if (!atomic_load(&conn->authenticated)) {
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC,
					      NVME_SC_AUTHENTICATION_REQUIRED), 0, 0);
		return;
	}
	switch (c->fctype) {
	case NVMF_FCTYPE_PROPERTY_GET:
	case NVMF_FCTYPE_PROPERTY_SET:
		if (conn->qid != 0)
			break;
		if (c->fctype == NVMF_FCTYPE_PROPERTY_GET)
			handle_property_get(cmd);
		else
			ctrl_property_set(cmd);
		return;
	case NVMF_FCTYPE_DISCONNECT:
		/* Deletes an I/O queue (NVMe-oF 1.1 §3.2); the admin queue stays. */
		if (conn->qid == 0) {
			cmd_complete(cmd, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC,
						      NVME_SC_INVALID_QUEUE_TYPE), 0, 0);
			return;
		}
		NVMF_DEBUG("nvmfd: %s: Disconnect of I/O queue %u", conn->peer, conn->qid);
		cmd_complete(cmd, 0, 0, 0);
		conn_mark_closing(conn);
		return;
	default:
		break;
	}
	cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_INVALID_OPCODE), 0, 0);
}

/* ------------------------------------------------------------------ */
/* Receive path                                                        */
/* ------------------------------------------------------------------ */

static void conn_receive(void *arg, struct nvmf_capsule *nc)
{
	struct nvmf_conn *conn = arg;
	struct nvmf_target *t = conn->target;
	struct nvmf_cmd *cmd = cmd_get(conn);
	const struct nvme_sqe *sqe = nvmf_capsule_sqe(nc);
	uint16_t st;

	if (cmd == NULL) {
		/* More commands than the queue holds (NVMe-oF 1.1 §2.3): refuse this one. */
		struct nvmf_capsule *rsp = nvmf_capsule_response_for(
			nc, cmd_status_dnr(NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR)), 0,
			0);

		if (!atomic_exchange(&conn->refusing, true))
			NVMF_WARN("nvmfd: %s: queue %u overrun by the host (cid %u): refusing the commands beyond it",
				  conn->peer, conn->qid, sqe->cid);
		if (rsp == NULL)
			conn_overrun(conn, sqe->cid);
		else
			nvmf_capsule_transmit(rsp);
		nvmf_capsule_free(rsp);
		nvmf_capsule_free(nc);
		return;
	}
	cmd->nc = nc;
	if (atomic_fetch_or(&conn->cids_in_flight[sqe->cid / 64], 1ull << (sqe->cid % 64)) &
	    (1ull << (sqe->cid % 64))) {
		NVMF_WARN("nvmfd: %s: queue %u: cid %u reused while in flight", conn->peer,
			  conn->qid, sqe->cid);
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_ID_CONFLICT), 0, 0);
		return;
	}
	cmd->holds_cid = true;
	st = nvmf_capsule_validate_command(nc);
	if (st != 0) {
		NVMF_DEBUG("nvmfd: %s: bad SGL in opcode %#x: status %#x", conn->peer, sqe->opc, st);
		cmd_complete(cmd, st, 0, 0);
		return;
	}
	if (sqe->opc == NVME_ADMIN_FABRICS) {
		handle_fabrics(cmd);
		return;
	}
	if (!atomic_load(&conn->connected)) {
		NVMF_WARN("nvmfd: %s: opcode %#x before Connect", conn->peer, sqe->opc);
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_COMMAND_SEQUENCE_ERROR), 0, 0);
		return;
	}
	if (!atomic_load(&conn->authenticated)) {
		/* Nothing but Authentication Send/Receive until then (TP 8006). */
		NVMF_DEBUG("nvmfd: %s: queue %u: opcode %#x before authentication", conn->peer,
			   conn->qid, sqe->opc);
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_COMMAND_SPECIFIC,
					      NVME_SC_AUTHENTICATION_REQUIRED), 0, 0);
		return;
	}
	/* One clock read: keep-alive activity and the command's latency. */
	cmd->start_ns = nvmf_now_ns();
	ctrl_touch_at(conn->ctrl, cmd->start_ns / 1000000u);
	if (atomic_load_explicit(&t->stopping, memory_order_relaxed)) {
		/* Shutting down: the host may retry elsewhere or after a reconnect. */
		cmd_complete(cmd, NVME_STATUS(NVME_SCT_GENERIC, NVME_SC_TRANSIENT_TRANSPORT_ERROR),
			     0, 0);
		return;
	}
	if (conn->qid == 0)
		ctrl_admin_command(cmd);
	else
		ctrl_io_command(cmd);
}

static void conn_error(void *arg, int error)
{
	struct nvmf_conn *conn = arg;

	if (error != 0 && error != ECONNRESET)
		NVMF_WARN("nvmfd: %s: connection ended: %s", conn->peer, strerror(error));
	else
		NVMF_DEBUG("nvmfd: %s: connection closed", conn->peer);
	conn_mark_closing(conn);
}

struct nvmf_conn *conn_alloc(struct nvmf_target *t, const struct nvmf_port *port,
			     struct nvmf_qpair_params *params)
{
	struct nvmf_conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->target = t;
	conn->portid = port->conf.portid;
	conn->inline_data_size = port->inline_data_size;
	conn->connect_deadline_ms = ctrl_now_ms() + t->params.connect_timeout_ms;
	snprintf(conn->peer, sizeof(conn->peer), "port %u", port->conf.portid);
	nvmf_mutex_init(&conn->lock);
	conn->ncmds = t->params.max_queue_depth + CTRL_CMD_SLACK;
	conn->cmds = calloc(conn->ncmds, sizeof(*conn->cmds));
	if (conn->cmds == NULL) {
		conn_release(conn);
		return NULL;
	}
	for (unsigned i = conn->ncmds; i-- > 0;) {
		conn->cmds[i].conn = conn;
		atomic_init(&conn->cmds[i].state, CMD_FREE);
		conn->cmds[i].next_free = conn->free_cmds;
		conn->free_cmds = &conn->cmds[i];
	}

	memset(params, 0, sizeof(*params));
	params->trtype = NVMF_TRTYPE_TCP;
	params->controller = true;
	params->sq_flow_control = true;
	params->qsize = t->params.max_queue_depth;
	params->engine = t->params.engine;
	params->error_cb = conn_error;
	params->receive_cb = conn_receive;
	params->cb_arg = conn;
	params->tcp.fd = -1;
	params->tcp.header_digests = t->params.allow_digests;
	params->tcp.data_digests = t->params.allow_digests;
	params->tcp.maxh2cdata = t->params.max_io_size;
	params->tcp.max_icd = port->inline_data_size;
	params->tcp.max_c2h_data = t->params.max_io_size;
	params->tcp.max_io_size = t->params.max_io_size;
	params->tcp.close_on_fatal = port->conf.fatal_close;
	params->tcp.tls_mode = port->conf.tls == NVMF_PORT_TLS_REQUIRED   ? NVMF_TCP_TLS_REQUIRED
			       : port->conf.tls == NVMF_PORT_TLS_OPTIONAL ? NVMF_TCP_TLS_OPTIONAL
									  : NVMF_TCP_TLS_NONE;
	return conn;
}

void conn_release(struct nvmf_conn *conn)
{
	stats_conn_free(conn);
	auth_queue_free(conn);
	if (conn->cmds != NULL)
		for (unsigned i = 0; i < conn->ncmds; i++)
			free(conn->cmds[i].buf);
	free(conn->cmds);
	pthread_mutex_destroy(&conn->lock);
	free(conn);
}

bool conn_stop(struct nvmf_conn *conn)
{
	struct nvmf_ctrl *ctrl = conn->ctrl;
	unsigned running;

	/* No callback runs after this returns; transfers waiting for data fail. */
	nvmf_qpair_free(conn->qp);
	conn->qp = NULL;
	if (ctrl != NULL && conn->qid == 0 && ctrl->admin == conn)
		ctrl_drop_aers(ctrl);
	NVMF_TESTPOINT("controller.conn_stop.stopped", conn);
	nvmf_mutex_lock(&conn->lock);
	running = conn->inflight;
	conn->draining = running != 0;
	nvmf_mutex_unlock(&conn->lock);
	/* Draining: the last command may free it any moment now. */
	if (running != 0)
		NVMF_DEBUG("nvmfd: a connection is freed once its %u running command(s) end",
			   running);
	return running == 0;
}

void conn_finish(struct nvmf_conn *conn)
{
	struct nvmf_target *t = conn->target;
	struct nvmf_ctrl *ctrl = conn->ctrl;
	bool free_ctrl = false;

	/* Its last command's cmd_put may still be leaving conn->lock. */
	nvmf_mutex_lock(&conn->lock);
	nvmf_mutex_unlock(&conn->lock);
	nvmf_mutex_lock(&t->lock);
	if (ctrl != NULL) {
		if (ctrl->admin == conn) {
			/* The association goes with its admin queue. */
			ctrl->admin = NULL;
			ctrl_kill_locked(ctrl);
		} else if (conn->qid != 0 && ctrl->io[conn->qid] == conn) {
			ctrl->io[conn->qid] = NULL;
			/* Out of the scrapes' sight and into the totals at once. */
			stats_retire_conn_locked(conn, ctrl->subsys);
		}
		if (--ctrl->nconns == 0) {
			struct nvmf_ctrl **pp = &ctrl->subsys->ctrls;

			while (*pp != ctrl)
				pp = &(*pp)->next;
			*pp = ctrl->next;
			t->nctrls--;
			free_ctrl = true;
		}
	}
	nvmf_mutex_unlock(&t->lock);
	if (free_ctrl)
		ctrl_free(ctrl);
	else if (ctrl != NULL)
		target_wake_reaper(t);
	conn_release(conn);
	nvmf_mutex_lock(&t->lock);
	t->nconns--;
	pthread_cond_broadcast(&t->cond);
	nvmf_mutex_unlock(&t->lock);
}

struct nvmf_conn *target_conn_reserve(struct nvmf_target *t, uint16_t portid,
				      struct nvmf_qpair_params *params, int *error)
{
	struct nvmf_port *port, snapshot;
	struct nvmf_conn *conn;

	nvmf_mutex_lock(&t->lock);
	port = target_find_port(t, portid);
	if (port == NULL || atomic_load(&t->stopping)) {
		nvmf_mutex_unlock(&t->lock);
		*error = port == NULL ? ENOENT : ESHUTDOWN;
		return NULL;
	}
	if (t->nconns >= t->params.max_connections) {
		t->stats.refused_connections++;
		nvmf_mutex_unlock(&t->lock);
		NVMF_WARN("nvmfd: refusing a connection on port %u: the limit of %u connections is reached",
			  portid, t->params.max_connections);
		*error = EBUSY;
		return NULL;
	}
	t->nconns++;
	snapshot = *port;
	nvmf_mutex_unlock(&t->lock);
	conn = conn_alloc(t, &snapshot, params);
	nvmf_mutex_lock(&t->lock);
	if (conn == NULL) {
		t->nconns--;
		pthread_cond_broadcast(&t->cond);
		nvmf_mutex_unlock(&t->lock);
		*error = ENOMEM;
		return NULL;
	}
	/*
	 * Listed now, before its queue pair exists: the transport may run the
	 * queue pair (Connect, commands) before it calls attach, and a
	 * shutdown must count those commands.  A shutdown that began since
	 * the check above has marked the others closing already.
	 */
	conn->next = t->conns;
	t->conns = conn;
	if (atomic_load(&t->stopping))
		atomic_store(&conn->closing, true);
	nvmf_mutex_unlock(&t->lock);
	return conn;
}

void target_conn_attach(struct nvmf_target *t, struct nvmf_conn *conn, struct nvmf_qpair *qp)
{
	nvmf_mutex_lock(&t->lock);
	conn->qp = qp;
	/* Teardown waited for this if it was marked closing meanwhile. */
	target_wake_reaper(t);
	/* From the unlock on, the connection (and, shutting down, the target)
	 * may be freed at any moment: the caller touches neither again. */
	nvmf_mutex_unlock(&t->lock);
}

void target_conn_abandon(struct nvmf_target *t, struct nvmf_conn *conn)
{
	nvmf_mutex_lock(&t->lock);
	for (struct nvmf_conn **pp = &t->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == conn) {
			*pp = conn->next;
			break;
		}
	nvmf_mutex_unlock(&t->lock);
	conn_release(conn);
	nvmf_mutex_lock(&t->lock);
	t->nconns--;
	pthread_cond_broadcast(&t->cond);
	nvmf_mutex_unlock(&t->lock);
}
