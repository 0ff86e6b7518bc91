// Scribe's page: log in, list conversations, chat with streamed answers,
// upload files and watch them being read, live, over Server-Sent Events.
// Everything a user or a file wrote is shown with textContent, never as HTML.
//
// This entry only connects the modules in js/, each of which owns its state:
//   session        the token, the user, the login form, logging out
//   conversations  the sidebar list and which conversation is open
//   messages       the open conversation's messages (message-view draws one)
//   events         its live stream, reconnected when it drops
//   chat           the composer and the streamed answer
//   files          uploads
//   sources        an answer's sources and the dialog showing a source's page
//   api, alerts, dom, i18n: calling the server, the error bar, elements, words

import { wireAlerts } from './js/alerts.js';
import { resetChat, wireChat } from './js/chat.js';
import { enterConversations, resetConversations, wireConversations } from './js/conversations.js';
import { closeEvents } from './js/events.js';
import { wireFiles } from './js/files.js';
import { translatePage } from './js/i18n.js';
import { resetMessages } from './js/messages.js';
import { resumeSession, wireSession } from './js/session.js';
import { closeSource, wireSources } from './js/sources.js';

translatePage();
wireAlerts();
wireConversations();
wireChat();
wireFiles();
wireSources();
wireSession({
  signedIn: enterConversations,
  signedOut() {
    closeEvents();
    closeSource();
    resetChat();
    resetConversations();
    resetMessages();
  },
});
resumeSession();
