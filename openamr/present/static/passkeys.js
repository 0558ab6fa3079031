// Passkeys (WebAuthn) for households, on the sign-in and welcome pages: redeem the letter's code
// with a passkey, sign in with one, or add one to this device. Each is a button marked
// data-passkey="redeem|sign-in|add", hidden in the HTML and shown here only where the browser
// can make passkeys; without JavaScript the passphrase forms beside them do everything.
// The server's answers are the API's (/api/v1/household/...); messages come from the page's
// <script type="application/json" id="passkey-messages"> block, keyed by the answer's status.
"use strict";
(function () {
  var buttons = document.querySelectorAll("[data-passkey]");
  var catalogue = document.getElementById("passkey-messages");
  var status = document.getElementById("passkey-status");
  if (!buttons.length || !catalogue || !status || !window.PublicKeyCredential ||
      !navigator.credentials || !window.fetch) {
    return;
  }
  var messages = JSON.parse(catalogue.textContent);

  // -- base64url, the encoding of the options and answers' binary fields

  function toBytes(text) {
    var padded = text.replace(/-/g, "+").replace(/_/g, "/");
    padded += "====".slice(0, (4 - padded.length % 4) % 4);
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json, { challenge: toBytes(json.challenge) });
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = withBytes(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json, { challenge: toBytes(json.challenge) });
    options.allowCredentials = withBytes(json.allowCredentials);
    return options;
  }

  function answerJSON(credential) {
    if (typeof credential.toJSON === "function") { return credential.toJSON(); }
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      if (response.userHandle) { json.response.userHandle = toText(response.userHandle); }
    }
    return json;
  }

  // -- talking to the API

  // A refusal's message: the answer's status, under `scope` first where one status means
  // different things (400 for a code that is not ours, and for a passkey that does not verify).
  function Refused(status, scope) { this.keys = [scope + status, status]; }

  function post(path, body, csrf, scope) {
    var headers = { "Content-Type": "application/json" };
    if (csrf) { headers["X-CSRF-Token"] = csrf; }
    return fetch(path, {
      method: "POST", credentials: "same-origin", headers: headers,
      body: JSON.stringify(body || {})
    }).then(function (answer) {
      if (!answer.ok) { throw new Refused(String(answer.status), scope || ""); }
      return answer.status === 204 ? null : answer.json();
    });
  }

  function say(key, isError) {
    status.textContent = messages[key] || messages.refused;
    status.className = isError ? "error" : "";
  }

  function failed(error) {
    if (error instanceof Refused) {
      say(error.keys.filter(function (key) { return key in messages; })[0] || "refused", true);
      return;
    }
    // The person cancelled, or the device has no way to make or find a passkey here.
    say(error && error.name === "NotAllowedError" ? "cancelled" : "refused", true);
  }

  // -- the three ceremonies

  var ceremonies = {
    redeem: function (button) {
      var field = document.getElementById(button.dataset.codeField || "code");
      var code = field ? field.value.trim() : "";
      if (!code) {
        say("need_code", true);
        if (field) { field.focus(); }
        return Promise.resolve();
      }
      return post("/api/v1/household/redeem", { code: code, credential: "passkey" }, null, "code_")
        .then(function (begun) {
          return navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) });
        })
        .then(function (made) {
          return post("/api/v1/household/redeem/passkey", answerJSON(made));
        })
        .then(function () { window.location.assign(button.dataset.then || "/home/welcome"); });
    },
    "sign-in": function (button) {
      return post("/api/v1/household/session/passkey/options")
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
        })
        .then(function (found) {
          return post("/api/v1/household/session/passkey", answerJSON(found));
        })
        .then(function () { window.location.assign(button.dataset.then || "/home"); });
    },
    add: function (button) {
      var csrf = button.dataset.csrf;
      return post("/api/v1/household/passkeys/options", null, csrf)
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
        })
        .then(function (made) { return post("/api/v1/household/passkeys", answerJSON(made), csrf); })
        .then(function () {
          say("added", false);
          button.hidden = true;
        });
    }
  };

  Array.prototype.forEach.call(buttons, function (button) {
    var ceremony = ceremonies[button.dataset.passkey];
    if (!ceremony) { return; }
    var offer = button.closest("[data-passkey-offer]") || button;
    offer.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      ceremony(button).catch(failed).then(function () { button.disabled = false; });
    });
  });
})();
