-- XEP-0136 Message Archiving for Prosody 0.12: preferences (§2), manual archiving (§5)
-- and archive management (§7) with XEP-0059 result set management. No automatic
-- archiving: the server never records messages by itself (<auto save='true'/> is
-- feature-not-implemented). Collections are stored per user with Prosody's storage API
-- exactly as uploaded; esession clients upload bodies sealed with the account's archive
-- key, so the server keeps no plaintext (docs/decisions.md, "Message archiving").
--
-- Part of esession; loaded by scripts/prosody.sh (plugin_paths + modules_enabled).

local st = require "util.stanza";
local jid = require "util.jid";
local datetime = require "util.datetime";
local rsm = require "util.rsm";

local xmlns = "urn:xmpp:archive";

local prefs_store = module:open_store("archive_manual_prefs");
local archive_store = module:open_store("archive_manual");

-- Bounds on what one user can make us keep or send back.
local max_collections = module:get_option_number("archive_manual_max_collections", 10000);
local max_messages = module:get_option_number("archive_manual_max_messages", 10000);
local max_body = module:get_option_number("archive_manual_max_body", 65536);
local max_page = module:get_option_number("archive_manual_max_page", 100);

-- XEP-0136 §11: the features of manual archiving, management and preferences.
module:add_feature("urn:xmpp:archive:manage");
module:add_feature("urn:xmpp:archive:manual");
module:add_feature("urn:xmpp:archive:pref");

local otr_modes = { approve = true, concede = true, forbid = true, oppose = true, prefer = true, require = true };
local save_modes = { body = true, ["false"] = true, message = true, stream = true };
local method_types = { auto = true, ["local"] = true, manual = true };
local method_uses = { concede = true, forbid = true, prefer = true };

local function xs_bool(v)
	return v == "1" or v == "true";
end

local function load(store, user)
	local data, err = store:get(user);
	if err then
		return nil, err;
	end
	return data or {};
end

-- Reply with an error and stop processing.
local function fail(origin, stanza, kind, condition, text)
	origin.send(st.error_reply(stanza, kind, condition, text));
	return true;
end

-- A DateTime (XEP-0082) normalized to whole seconds UTC, and its number; nil if invalid.
local function norm_time(s)
	if not s then return nil; end
	local t = datetime.parse(s);
	if not t then return nil; end
	t = math.floor(t);
	return datetime.datetime(t), t;
end

-- XEP-0136 §10.1 JID matching.
local function jid_matches(pattern, j, exact)
	local pn, ph, pr = jid.split(pattern);
	if exact or pr then
		return pattern == j;
	end
	local jn, jh = jid.split(j);
	if pn then
		return pn == jn and ph == jh;
	end
	return ph == jh;
end

-- §2.3/§2.4–2.7: preferences --------------------------------------------------------------

local function sorted_keys(t)
	local keys = {};
	for k in pairs(t or {}) do keys[#keys + 1] = k; end
	table.sort(keys);
	return keys;
end

module:hook("iq-get/self/urn:xmpp:archive:pref", function(event)
	local origin, stanza = event.origin, event.stanza;
	local p, err = load(prefs_store, origin.username);
	if not p then return fail(origin, stanza, "wait", "internal-server-error", err); end
	local reply = st.reply(stanza):tag("pref", { xmlns = xmlns });
	reply:tag("auto", { save = "false" }):up();
	if p.default then
		reply:tag("default", { otr = p.default.otr, save = p.default.save, expire = p.default.expire }):up();
	else
		-- §2.3: never set: the server's defaults, marked unset.
		reply:tag("default", { otr = "concede", save = "false", unset = "true" }):up();
	end
	for _, k in ipairs(sorted_keys(p.items)) do
		local it = p.items[k];
		reply:tag("item", { jid = k, otr = it.otr, save = it.save, expire = it.expire,
			exactmatch = it.exactmatch and "true" or nil }):up();
	end
	for _, k in ipairs(sorted_keys(p.sessions)) do
		local s = p.sessions[k];
		reply:tag("session", { thread = k, save = s.save, otr = s.otr }):up();
	end
	local methods = p.methods or {};
	-- §2.2.5: at least one <method/> per type; automatic archiving does not exist here.
	reply:tag("method", { type = "auto", use = methods.auto or "forbid" }):up();
	reply:tag("method", { type = "local", use = methods["local"] or "concede" }):up();
	reply:tag("method", { type = "manual", use = methods.manual or "prefer" }):up();
	origin.send(reply);
	return true;
end);

-- Validates otr/save/expire of a <default/>, <item/> or <session/>; nil and the reason
-- when invalid.
local function modes(tag, need_otr)
	local otr, save, expire = tag.attr.otr, tag.attr.save, tag.attr.expire;
	if (need_otr or otr) and not otr_modes[otr or ""] then return nil, "bad otr"; end
	if not save_modes[save or ""] then return nil, "bad save"; end
	if expire and not expire:match("^%d+$") then return nil, "bad expire"; end
	-- §2.2.2.2: OTR 'require' needs Save Mode 'false'.
	if otr == "require" and save ~= "false" then return nil, "otr='require' needs save='false'"; end
	return { otr = otr, save = save, expire = expire };
end

module:hook("iq-set/self/urn:xmpp:archive:pref", function(event)
	local origin, stanza = event.origin, event.stanza;
	local p, err = load(prefs_store, origin.username);
	if not p then return fail(origin, stanza, "wait", "internal-server-error", err); end
	p.items, p.sessions, p.methods = p.items or {}, p.sessions or {}, p.methods or {};
	-- Everything is validated before anything changes.
	for tag in stanza.tags[1]:childtags() do
		local name = tag.name;
		if name == "default" then
			local m, why = modes(tag, true);
			if not m then return fail(origin, stanza, "modify", "bad-request", why); end
			p.default = m;
		elseif name == "item" then
			local m, why = modes(tag, true);
			if not m then return fail(origin, stanza, "modify", "bad-request", why); end
			local j = tag.attr.jid and jid.prep(tag.attr.jid);
			if not j then return fail(origin, stanza, "modify", "jid-malformed", "item needs a valid jid"); end
			m.exactmatch = xs_bool(tag.attr.exactmatch) or nil;
			p.items[j] = m;
		elseif name == "session" then
			local m, why = modes(tag, false);
			if not m then return fail(origin, stanza, "modify", "bad-request", why); end
			if not tag.attr.thread or tag.attr.thread == "" then
				return fail(origin, stanza, "modify", "bad-request", "session needs a thread");
			end
			p.sessions[tag.attr.thread] = { save = m.save, otr = m.otr };
		elseif name == "method" then
			if not method_types[tag.attr.type or ""] or not method_uses[tag.attr.use or ""] then
				return fail(origin, stanza, "modify", "bad-request", "bad method");
			end
			p.methods[tag.attr.type] = tag.attr.use;
		end
	end
	local ok, serr = prefs_store:set(origin.username, p);
	if not ok then return fail(origin, stanza, "wait", "internal-server-error", serr); end
	origin.send(st.reply(stanza));
	return true;
end);

local function remove_pref(kind, key_attr, key_norm)
	return function(event)
		local origin, stanza = event.origin, event.stanza;
		local p, err = load(prefs_store, origin.username);
		if not p then return fail(origin, stanza, "wait", "internal-server-error", err); end
		local t = p[kind] or {};
		for tag in stanza.tags[1]:childtags() do
			local key = tag.attr[key_attr] and key_norm(tag.attr[key_attr]);
			if not key then return fail(origin, stanza, "modify", "bad-request", "missing " .. key_attr); end
			t[key] = nil;
		end
		p[kind] = t;
		local ok, serr = prefs_store:set(origin.username, p);
		if not ok then return fail(origin, stanza, "wait", "internal-server-error", serr); end
		origin.send(st.reply(stanza));
		return true;
	end
end

module:hook("iq-set/self/urn:xmpp:archive:itemremove", remove_pref("items", "jid", jid.prep));
module:hook("iq-set/self/urn:xmpp:archive:sessionremove", remove_pref("sessions", "thread", function(t) return t; end));

-- §6: automatic archiving is not offered: switching it off always succeeds.
module:hook("iq-set/self/urn:xmpp:archive:auto", function(event)
	local origin, stanza = event.origin, event.stanza;
	if xs_bool(stanza.tags[1].attr.save) then
		return fail(origin, stanza, "cancel", "feature-not-implemented", "no automatic archiving on this server");
	end
	origin.send(st.reply(stanza));
	return true;
end);

-- Collections ---------------------------------------------------------------------------

local function find(list, with, start)
	for i, c in ipairs(list) do
		if c.with == with and c.start == start then return i, c; end
	end
end

-- Chronological order (§7.1), then by JID for equal starts.
local function order(a, b)
	if a.ts ~= b.ts then return a.ts < b.ts; end
	return a.with < b.with;
end

local function chat_header(c)
	return { xmlns = xmlns, with = c.with, start = c.start, thread = c.thread,
		subject = c.subject, version = tostring(c.version) };
end

-- §5.2 upload; §5.3 subject change.
module:hook("iq-set/self/urn:xmpp:archive:save", function(event)
	local origin, stanza = event.origin, event.stanza;
	local chat = stanza.tags[1]:get_child("chat");
	if not chat then return fail(origin, stanza, "modify", "bad-request", "save needs a chat"); end
	local with = chat.attr.with and jid.prep(chat.attr.with);
	local start, ts = norm_time(chat.attr.start);
	if not with or not start then
		return fail(origin, stanza, "modify", "bad-request", "chat needs a valid with and start");
	end
	local msgs = {};
	for tag in chat:childtags() do
		if tag.name == "to" or tag.name == "from" then
			local body = tag:get_child_text("body");
			-- §4.6: <to/> and <from/> must not be empty.
			if not body or body == "" then
				return fail(origin, stanza, "modify", "bad-request", "empty " .. tag.name);
			end
			if #body > max_body then
				return fail(origin, stanza, "modify", "not-acceptable", "body too large");
			end
			local secs, utc = tag.attr.secs, tag.attr.utc;
			if secs and not secs:match("^%d+$") then
				return fail(origin, stanza, "modify", "bad-request", "bad secs");
			end
			if utc then
				utc = norm_time(utc);
				if not utc then return fail(origin, stanza, "modify", "bad-request", "bad utc"); end
			end
			msgs[#msgs + 1] = { d = tag.name, secs = secs, utc = utc, body = body };
		end
	end
	local data, err = load(archive_store, origin.username);
	if not data then return fail(origin, stanza, "wait", "internal-server-error", err); end
	local list = data.list or {};
	local _, c = find(list, with, start);
	if c then
		c.version = c.version + 1;
	else
		if #list >= max_collections then
			return fail(origin, stanza, "modify", "not-acceptable", "too many collections");
		end
		c = { with = with, start = start, ts = ts, version = 0, msgs = {} };
		list[#list + 1] = c;
		table.sort(list, order);
	end
	if #c.msgs + #msgs > max_messages then
		-- §5.2: a collection too large is not-acceptable.
		return fail(origin, stanza, "modify", "not-acceptable", "collection too large");
	end
	c.thread = chat.attr.thread or c.thread;
	c.subject = chat.attr.subject or c.subject;
	for _, m in ipairs(msgs) do c.msgs[#c.msgs + 1] = m; end
	data.list = list;
	local ok, serr = archive_store:set(origin.username, data);
	if not ok then return fail(origin, stanza, "wait", "internal-server-error", serr); end
	origin.send(st.reply(stanza):tag("save", { xmlns = xmlns }):tag("chat", chat_header(c)));
	return true;
end);

-- XEP-0059 paging of `items` (ids from id_of). Returns the first and last positions
-- (last < first for an empty page) or nil and an error condition.
local function page(items, set, id_of)
	local count = #items;
	set = set or {};
	local max = set.max or max_page;
	if max > max_page then max = max_page; end
	if max < 0 then return nil, "bad-request"; end
	local first, last;
	local function position(id)
		for i, it in ipairs(items) do
			if id_of(it, i) == id then return i; end
		end
	end
	if set.after then
		local i = position(set.after);
		if not i then return nil, "item-not-found"; end
		first = i + 1;
		last = math.min(count, first + max - 1);
	elseif set.before then
		if set.before == true then
			last = count;
		else
			local i = position(set.before);
			if not i then return nil, "item-not-found"; end
			last = i - 1;
		end
		first = math.max(1, last - max + 1);
	else
		first = (set.index or 0) + 1;
		last = math.min(count, first + max - 1);
	end
	if max == 0 then last = first - 1; end
	return first, last;
end

local function add_set(reply, items, first, last, id_of)
	local out = { count = #items };
	if last >= first then
		out.first = { index = first - 1, id_of(items[first], first) };
		out.last = id_of(items[last], last);
	end
	reply:add_child(rsm.generate(out));
end

local function collection_id(c) return c.start .. c.with; end
local function message_id(_, i) return tostring(i - 1); end

-- §7.1 list.
module:hook("iq-get/self/urn:xmpp:archive:list", function(event)
	local origin, stanza = event.origin, event.stanza;
	local q = stanza.tags[1];
	local with = q.attr.with and jid.prep(q.attr.with);
	if q.attr.with and not with then return fail(origin, stanza, "modify", "jid-malformed"); end
	local _, from_ts = norm_time(q.attr.start);
	local _, to_ts = norm_time(q.attr["end"]);
	if (q.attr.start and not from_ts) or (q.attr["end"] and not to_ts) then
		return fail(origin, stanza, "modify", "bad-request", "bad start or end");
	end
	local exact = xs_bool(q.attr.exactmatch);
	local data, err = load(archive_store, origin.username);
	if not data then return fail(origin, stanza, "wait", "internal-server-error", err); end
	local matching = {};
	for _, c in ipairs(data.list or {}) do
		if (not with or jid_matches(with, c.with, exact))
			and (not from_ts or c.ts >= from_ts) and (not to_ts or c.ts < to_ts) then
			matching[#matching + 1] = c;
		end
	end
	local first, last = page(matching, rsm.get(q), collection_id);
	if not first then return fail(origin, stanza, "cancel", last); end
	local reply = st.reply(stanza):tag("list", { xmlns = xmlns });
	for i = first, last do
		reply:tag("chat", chat_header(matching[i])):up();
	end
	if #matching > 0 then add_set(reply, matching, first, last, collection_id); end
	origin.send(reply);
	return true;
end);

-- §7.2 retrieve.
module:hook("iq-get/self/urn:xmpp:archive:retrieve", function(event)
	local origin, stanza = event.origin, event.stanza;
	local q = stanza.tags[1];
	local with = q.attr.with and jid.prep(q.attr.with);
	local start = norm_time(q.attr.start);
	if not with or not start then
		return fail(origin, stanza, "modify", "bad-request", "retrieve needs with and start");
	end
	local data, err = load(archive_store, origin.username);
	if not data then return fail(origin, stanza, "wait", "internal-server-error", err); end
	local _, c = find(data.list or {}, with, start);
	if not c then return fail(origin, stanza, "cancel", "item-not-found"); end
	local first, last = page(c.msgs, rsm.get(q), message_id);
	if not first then return fail(origin, stanza, "cancel", last); end
	local reply = st.reply(stanza):tag("chat", chat_header(c));
	for i = first, last do
		local m = c.msgs[i];
		reply:tag(m.d, { secs = m.secs, utc = m.utc }):text_tag("body", m.body):up();
	end
	if #c.msgs > 0 then add_set(reply, c.msgs, first, last, message_id); end
	origin.send(reply);
	return true;
end);

-- §7.3 remove: one collection (with and start), or every collection matching with and
-- the start/end range.
module:hook("iq-set/self/urn:xmpp:archive:remove", function(event)
	local origin, stanza = event.origin, event.stanza;
	local q = stanza.tags[1];
	local with = q.attr.with and jid.prep(q.attr.with);
	if q.attr.with and not with then return fail(origin, stanza, "modify", "jid-malformed"); end
	local start, from_ts = norm_time(q.attr.start);
	local _, to_ts = norm_time(q.attr["end"]);
	if (q.attr.start and not from_ts) or (q.attr["end"] and not to_ts) then
		return fail(origin, stanza, "modify", "bad-request", "bad start or end");
	end
	if xs_bool(q.attr.open) then
		-- No collection is ever being recorded automatically here.
		return fail(origin, stanza, "cancel", "item-not-found");
	end
	local data, err = load(archive_store, origin.username);
	if not data then return fail(origin, stanza, "wait", "internal-server-error", err); end
	local single = with and start and not to_ts;
	local exact = single or xs_bool(q.attr.exactmatch);
	local kept, removed = {}, 0;
	for _, c in ipairs(data.list or {}) do
		local hit;
		if single then
			hit = c.with == with and c.start == start;
		else
			hit = (not with or jid_matches(with, c.with, exact))
				and (not from_ts or c.ts >= from_ts) and (not to_ts or c.ts < to_ts);
		end
		if hit then removed = removed + 1; else kept[#kept + 1] = c; end
	end
	if removed == 0 then return fail(origin, stanza, "cancel", "item-not-found"); end
	data.list = kept;
	local ok, serr = archive_store:set(origin.username, data);
	if not ok then return fail(origin, stanza, "wait", "internal-server-error", serr); end
	origin.send(st.reply(stanza));
	return true;
end);
