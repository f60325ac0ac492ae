// zkcredit local wallet page. Talks only to the wallet process that served it (same origin,
// the per-start key is the first path segment). The holder secret never reaches this page.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
let kycTimer = null;
let jobTimer = null;

function showError(msg) {
  const e = $("error");
  e.textContent = msg ? msg.charAt(0).toUpperCase() + msg.slice(1) : "";
  e.hidden = !msg;
  if (msg) e.scrollIntoView({ block: "center" });
}

async function api(path, body) {
  const opts = { credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers = { "Content-Type": "application/json" };
    opts.body = JSON.stringify(body);
  }
  const r = await fetch("api/" + path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (!r.ok) {
    const msg = data && data.message ? data.message : "the wallet answered " + r.status;
    const err = new Error(msg);
    err.code = data && data.code;
    throw err;
  }
  return data;
}

function fill(list, items) {
  list.replaceChildren(...items.map((t) => {
    const li = document.createElement("li");
    li.textContent = t;
    return li;
  }));
}

// A plain guide, not an entropy claim: length counts most, then the kinds of characters
// (lower case, upper case, digits, others) and how many differ.
function strength(pw) {
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(pw)).length;
  const distinct = new Set(pw).size;
  const min = state ? state.min_password : 10;
  const score = Math.min(pw.length, distinct * 2) + 4 * Math.max(kinds - 1, 0);
  const level = pw.length < min ? 1 : score < 16 ? 2 : score < 22 ? 3 : 4;
  const words = ["", "too short", "weak", "fair", "strong"];
  const what = pw.length + " characters, " + kinds + (kinds === 1 ? " kind" : " kinds");
  return { level, text: "Strength: " + words[level] + " (" + what + ")" };
}

function fmtDate(secs) {
  return new Date(secs * 1000).toLocaleString();
}

function fmtSecs(s) {
  if (s < 1) return "less than a second";
  if (s < 90) return Math.round(s) + " s";
  return Math.round(s / 60) + " min";
}

function render(s) {
  state = s;
  const unlocked = s.wallet === "unlocked";
  $("create-section").hidden = s.wallet !== "none";
  $("unlock-section").hidden = s.wallet !== "locked";
  $("kyc-section").hidden = !unlocked;
  $("footer").hidden = !unlocked;
  $("holder").textContent = unlocked ? "holder key " + s.holder_key.slice(0, 16) + "…" : "";
  $("kyc-apply-box").hidden = s.kyc !== "none";
  if (!unlocked) stopKycPolling();
  if (s.kyc === "approved") {
    $("kyc-status").textContent = "✓ You are KYC-verified by the alliance's issuer.";
  } else if (s.kyc === "pending" && unlocked) {
    $("kyc-status").textContent = "Waiting for the issuer to check your identity (application " + s.kyc_application + ")…";
    startKycPolling();
  } else {
    $("kyc-status").textContent = "";
  }
  $("request-section").hidden = !(unlocked && s.kyc === "approved");
  const r = s.request;
  $("request-card").hidden = !r;
  if (r) {
    $("lender-name").textContent = r.lender;
    $("lender-id").textContent = r.verifier_id;
    $("lender-product").textContent = r.product;
    $("lender-expiry").textContent = fmtSecs(r.expires_in_seconds);
    fill($("policy"), r.conditions);
    fill($("learns"), r.learns);
    fill($("not-learns"), r.does_not_learn);
  }
  $("history-section").hidden = !(unlocked && s.history.length);
  $("history").replaceChildren(...s.history.map((h) => {
    const tr = document.createElement("tr");
    for (const t of [fmtDate(h.at), h.lender, h.product, h.decision.replace("_", " "), h.detail]) {
      const td = document.createElement("td");
      td.textContent = t;
      tr.appendChild(td);
    }
    return tr;
  }));
}

async function refresh() {
  render(await api("state"));
}

function stopKycPolling() {
  if (kycTimer) clearTimeout(kycTimer);
  kycTimer = null;
}

// One question to the issuer at a time, every 1.5 s while the application is pending.
function startKycPolling() {
  if (kycTimer) return;
  kycTimer = setTimeout(async () => {
    let again = false;
    try {
      const k = await api("kyc/refresh", {});
      again = k.status === "pending";
      if (!again) {
        await refresh();
        if (k.status !== "approved") showError(k.message);
      }
    } catch (e) {
      showError(e.message);
    }
    kycTimer = null;
    if (again && state && state.wallet === "unlocked") startKycPolling();
  }, 1500);
}

function renderJob(j) {
  $("progress-section").hidden = false;
  $("progress-stage").textContent = j.stage;
  const p = $("progress");
  if (j.percent === null) p.removeAttribute("value"); else p.value = j.percent;
  p.hidden = j.state === "no_proof" || j.state === "failed";
  let t = "elapsed " + fmtSecs(j.elapsed_seconds);
  if (j.state === "running") {
    t += j.remaining_seconds === null
      ? " · first proof on this computer: no estimate yet"
      : " · about " + fmtSecs(j.remaining_seconds) + " left";
  }
  $("progress-time").textContent = t;
  $("no-proof").hidden = j.state !== "no_proof";
  $("ready").hidden = j.state !== "ready";
  if (j.state === "no_proof") {
    $("no-proof-reason").textContent = j.detail.charAt(0).toUpperCase() + j.detail.slice(1) + ".";
    $("no-proof-rule").textContent = j.technical;
    $("no-proof").scrollIntoView({ block: "center" });
  }
  if (j.state === "ready") $("ready").scrollIntoView({ block: "center" });
  if (j.state === "ready") $("ready-text").textContent = "✓ " + j.detail + ". It says only that you meet the conditions.";
  if (j.state === "failed") showError("The proof could not be made: " + j.detail);
  $("prove").disabled = j.state === "running";
}

async function pollJob() {
  try {
    const j = await api("job");
    if (j) renderJob(j);
    if (j && j.state === "running") {
      jobTimer = setTimeout(pollJob, 250);
    } else {
      jobTimer = null;
      await refresh();
    }
  } catch (e) {
    jobTimer = null;
    showError(e.message);
  }
}

function on(id, f) {
  $(id).addEventListener("click", async () => {
    showError("");
    $(id).disabled = true;
    try { await f(); } catch (e) { showError(e.message); } finally { $(id).disabled = false; }
  });
}

// Enter in a field presses its step's button.
function enterPresses(field, button) {
  $(field).addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !$(button).disabled) $(button).click();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  enterPresses("new-password2", "create");
  enterPresses("password", "unlock");
  enterPresses("kyc-id", "kyc-apply");
  enterPresses("request-url", "open-request");
  $("new-password").addEventListener("input", () => {
    const s = strength($("new-password").value);
    $("strength").textContent = s.text;
    $("strength-bar").className = "s" + s.level;
  });
  on("create", async () => {
    if ($("new-password").value !== $("new-password2").value) {
      throw new Error("the two passwords differ");
    }
    render(await api("create", { password: $("new-password").value }));
    $("new-password").value = "";
    $("new-password2").value = "";
  });
  on("unlock", async () => {
    try {
      render(await api("unlock", { password: $("password").value }));
    } finally {
      $("password").value = "";
    }
  });
  on("lock", async () => {
    stopKycPolling();
    $("progress-section").hidden = true;
    $("decision").hidden = true;
    render(await api("lock", {}));
  });
  on("kyc-apply", async () => render(await api("kyc/apply", { id: $("kyc-id").value })));
  on("open-request", async () => {
    $("progress-section").hidden = true;
    $("decision").hidden = true;
    render(await api("request/open", { url: $("request-url").value }));
  });
  on("prove", async () => {
    $("decision").hidden = true;
    renderJob(await api("prove", {}));
    $("progress-section").scrollIntoView({ block: "start" });
    if (!jobTimer) jobTimer = setTimeout(pollJob, 250);
  });
  on("submit", async () => {
    const d = await api("submit", {});
    $("ready").hidden = true;
    const box = $("decision");
    box.textContent = (d.decision === "accepted" ? "✓ " : "✗ ") + d.message;
    box.className = "decision " + d.decision;
    box.hidden = false;
    await refresh();
    box.scrollIntoView({ block: "center" });
  });
  // After a reload: the state, and a proof being made or ready to send, if any.
  refresh()
    .then(pollJob)
    .catch((e) => showError(e.message));
});
