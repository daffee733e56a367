// Where identifiers and unsent events live between page loads: a first-party cookie for the
// anonymous id (readable on every page of the site, also by the server), localStorage for
// the rest, and memory when neither is available (private modes, blocked storage).

const memory = {};

export const local = {
  get(key) {
    try {
      return localStorage.getItem(key);
    } catch (e) {
      return memory[key] ?? null;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (e) {
      memory[key] = value;
    }
  },
  del(key) {
    try {
      localStorage.removeItem(key);
    } catch (e) {}
    delete memory[key];
  },
};

export const cookie = {
  get(name) {
    try {
      const found = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      return found ? decodeURIComponent(found[1]) : null;
    } catch (e) {
      return null;
    }
  },
  set(name, value, days, domain) {
    try {
      const expires = new Date(Date.now() + days * 864e5).toUTCString();
      document.cookie =
        `${name}=${encodeURIComponent(value)}; expires=${expires}; path=/; SameSite=Lax` +
        (domain ? `; domain=${domain}` : "") +
        (location.protocol == "https:" ? "; Secure" : "");
    } catch (e) {}
  },
  del(name, domain) {
    cookie.set(name, "", -1, domain);
  },
};
