/* Live preview of the content editor (templates/editor/document.html).
 *
 * While a mentor types, the form is sent to the preview endpoint (400 ms after the last
 * change). The server renders the Markdown with the same render-and-sanitize function as the
 * content sync and checks every field with the content format's rules; this script only puts
 * the returned HTML into the preview pane and the returned messages next to their fields.
 * Without JavaScript, the form's "Preview" button does the same with a page reload.
 */
(function () {
  "use strict";

  var DELAY_MS = 400;
  var form = document.querySelector("form.editor-form[data-preview-url]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var url = form.getAttribute("data-preview-url");
  var pane = document.getElementById("preview-pane");
  var stale = document.getElementById("stale-notice");
  var timer = null;
  var sequence = 0;
  var controller = null;

  var problems = document.createElement("div");
  problems.className = "form-errors";
  problems.setAttribute("role", "status");
  problems.hidden = true;
  form.insertBefore(problems, form.firstChild);

  function csrfToken() {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function boxOf(element) {
    if (element.classList.contains("field") || element.classList.contains("checkbox-group")) {
      return element;
    }
    return element.closest(".field, .checkbox-group");
  }

  function describedBy(element, id, add) {
    var ids = (element.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (value) {
      return value && value !== id;
    });
    if (add) {
      ids.push(id);
    }
    if (ids.length) {
      element.setAttribute("aria-describedby", ids.join(" "));
    } else {
      element.removeAttribute("aria-describedby");
    }
  }

  function clearErrors() {
    form.querySelectorAll(".field-invalid").forEach(function (box) {
      box.classList.remove("field-invalid");
    });
    form.querySelectorAll("p.error[id$='-error']").forEach(function (message) {
      var id = message.id.slice(0, -"-error".length);
      var element = document.getElementById(id);
      if (element) {
        element.removeAttribute("aria-invalid");
        describedBy(element, message.id, false);
      }
      message.remove();
    });
  }

  function showErrors(errors) {
    clearErrors();
    Object.keys(errors).forEach(function (id) {
      var element = document.getElementById(id);
      var box = element && boxOf(element);
      if (!box) {
        return;
      }
      var message = document.createElement("p");
      message.className = "error";
      message.id = id + "-error";
      message.textContent = errors[id].join(" ");
      box.appendChild(message);
      box.classList.add("field-invalid");
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(element.tagName)) {
        element.setAttribute("aria-invalid", "true");
      }
      describedBy(element, message.id, true);
    });
  }

  function showProblems(list) {
    problems.textContent = "";
    if (!list.length) {
      problems.hidden = true;
      return;
    }
    var ul = document.createElement("ul");
    list.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      ul.appendChild(li);
    });
    problems.appendChild(ul);
    problems.hidden = false;
  }

  function refresh() {
    timer = null;
    if (controller) {
      controller.abort();
    }
    controller = window.AbortController ? new AbortController() : null;
    var mine = ++sequence;
    pane.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": csrfToken()},
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("preview failed: " + response.status);
      }
      return response.json();
    }).then(function (data) {
      if (mine !== sequence) {
        return;  // an older answer arriving after a newer one
      }
      pane.innerHTML = data.html;  // sanitized by the server's render_markdown
      showErrors(data.errors || {});
      showProblems(data.other || []);
      if (stale) {
        stale.hidden = !data.stale;
      }
    }).catch(function () {
      // Offline or signed out: the "Preview" button still works.
    }).then(function () {
      if (mine === sequence) {
        pane.removeAttribute("aria-busy");
      }
    });
  }

  function schedule(event) {
    if (event.target && event.target.type === "file") {
      return;
    }
    if (timer) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(refresh, DELAY_MS);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", function () {
    if (timer) {
      window.clearTimeout(timer);
      timer = null;
    }
    sequence++;
  });
})();
