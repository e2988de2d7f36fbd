import { provideZapSockets } from '../zap/client.ts';
import { Dealer } from './dealer.ts';
import { Router } from './router.ts';

/**
 * Hands ZAP (src/zap) the sockets it runs on: the DEALER that carries a server's requests and the
 * ROUTER of an Authenticator. ZAP sits below the socket layer, so it is given them here instead
 * of importing socket classes.
 */
provideZapSockets({
  dealer: (options) => {
    const dealer = new Dealer(options);
    // its reader waits for replies for the life of the process: that must not keep it alive
    dealer.keepsProcessAlive = false;
    return dealer;
  },
  router: (options) => new Router(options),
});
